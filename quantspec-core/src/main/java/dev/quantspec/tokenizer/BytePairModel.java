package dev.quantspec.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The BPE model of a byte-level tokenizer: turns one pre-token (a piece of text the pre-tokenizer
 * cut out) into token ids by starting from one token per UTF-8 byte and applying the merge rule of
 * lowest rank, leftmost first, until no adjacent pair has a rule — the order Hugging Face uses, so
 * the ids are identical.
 *
 * <p>Results are cached per pre-token: natural text repeats the same words constantly, and the
 * cache turns most of a long document's pre-tokens into one hash lookup. Like Hugging Face, the
 * cache stops taking entries once full (no eviction bookkeeping on the hot path) and skips very
 * long pieces, which rarely repeat.
 */
final class BytePairModel {
    private static final int CACHE_CAPACITY = 10_000;
    private static final int MAX_CACHED_PIECE_CHARS = 256;

    /** Vocabulary spelling (byte-level characters) -> id. */
    private final Map<String, Integer> vocab;
    private final MergeTable merges;
    /** [256] byte value -> id of its single-byte token, or -1 when the vocabulary lacks it. */
    private final int[] byteTokenIds;
    /** The id used for a byte with no token, or -1 to drop such bytes (Hugging Face without unk_token). */
    private final int unknownId;
    private final boolean fuseUnknown;
    /** Llama 3: a pre-token that is itself a vocabulary entry is emitted whole, without merging. */
    private final boolean ignoreMerges;
    private final Map<String, int[]> cache = new ConcurrentHashMap<>();

    BytePairModel(Map<String, Integer> vocab, MergeTable merges, int[] byteTokenIds,
                  int unknownId, boolean fuseUnknown, boolean ignoreMerges) {
        this.vocab = vocab;
        this.merges = merges;
        this.byteTokenIds = byteTokenIds.clone();
        this.unknownId = unknownId;
        this.fuseUnknown = fuseUnknown;
        this.ignoreMerges = ignoreMerges;
    }

    /** Appends the ids of one pre-token (raw text, not yet byte-mapped) to {@code out}. */
    void encode(String piece, IntList out) {
        int[] cached = cache.get(piece);
        if (cached == null) {
            cached = encodeUncached(piece);
            if (piece.length() <= MAX_CACHED_PIECE_CHARS && cache.size() < CACHE_CAPACITY) {
                cache.put(piece, cached);
            }
        }
        out.addAll(cached);
    }

    private int[] encodeUncached(String piece) {
        byte[] bytes = piece.getBytes(StandardCharsets.UTF_8);
        if (ignoreMerges) {
            Integer whole = vocab.get(ByteLevelAlphabet.encode(bytes, 0, bytes.length));
            if (whole != null) {
                return new int[] {whole};
            }
        }
        // The word as a doubly linked list of symbols; merging unlinks the right-hand symbol.
        int n = bytes.length;
        int[] ids = new int[n];   // [n] token id of the symbol starting at each position
        int[] prev = new int[n];  // [n] position of the previous live symbol, -1 at the start
        int[] next = new int[n];  // [n] position of the next live symbol, -1 at the end
        boolean[] dead = new boolean[n];  // [n] true once merged into the symbol on its left
        int count = 0;
        for (int i = 0; i < n; i++) {
            int id = byteTokenIds[bytes[i] & 0xFF];
            if (id < 0) {
                if (unknownId < 0 || (fuseUnknown && count > 0 && ids[count - 1] == unknownId)) {
                    continue;
                }
                id = unknownId;
            }
            ids[count] = id;
            prev[count] = count - 1;
            next[count] = count + 1;
            count++;
        }
        if (count == 0) {
            return new int[0];
        }
        next[count - 1] = -1;

        // Candidate merges ordered by (rank, position): the lowest rank first, the leftmost on ties.
        LongMinHeap queue = new LongMinHeap(count);
        for (int i = 0; i + 1 < count; i++) {
            offerPair(queue, ids, i, i + 1);
        }
        while (!queue.isEmpty()) {
            long top = queue.poll();
            int pos = (int) top;
            int rank = (int) (top >>> 32);
            int right = next[pos];
            if (dead[pos] || right < 0) {
                continue;
            }
            long rule = merges.find(ids[pos], ids[right]);
            if (rule < 0 || (int) (rule >>> 32) != rank) {
                continue;  // stale: one side was merged since this candidate was queued
            }
            ids[pos] = (int) rule;
            dead[right] = true;
            int after = next[right];
            next[pos] = after;
            if (after >= 0) {
                prev[after] = pos;
                offerPair(queue, ids, pos, after);
            }
            if (prev[pos] >= 0) {
                offerPair(queue, ids, prev[pos], pos);
            }
        }
        IntList result = new IntList(count);
        for (int i = 0; i >= 0; i = next[i]) {
            result.add(ids[i]);
        }
        return result.toArray();
    }

    private void offerPair(LongMinHeap queue, int[] ids, int left, int right) {
        long rule = merges.find(ids[left], ids[right]);
        if (rule >= 0) {
            queue.add((rule >>> 32) << 32 | left);
        }
    }

    /** A binary min-heap of primitive longs (packed rank and position). */
    private static final class LongMinHeap {
        /** [capacity] heap-ordered entries; the first {@code size} are in use. */
        private long[] heap;
        private int size;

        LongMinHeap(int initialCapacity) {
            heap = new long[Math.max(4, initialCapacity)];
        }

        boolean isEmpty() {
            return size == 0;
        }

        void add(long value) {
            if (size == heap.length) {
                heap = java.util.Arrays.copyOf(heap, size * 2);
            }
            int i = size++;
            while (i > 0) {
                int parent = (i - 1) >>> 1;
                if (heap[parent] <= value) {
                    break;
                }
                heap[i] = heap[parent];
                i = parent;
            }
            heap[i] = value;
        }

        long poll() {
            long top = heap[0];
            long last = heap[--size];
            int i = 0;
            while (true) {
                int child = 2 * i + 1;
                if (child >= size) {
                    break;
                }
                if (child + 1 < size && heap[child + 1] < heap[child]) {
                    child++;
                }
                if (heap[child] >= last) {
                    break;
                }
                heap[i] = heap[child];
                i = child;
            }
            heap[i] = last;
            return top;
        }
    }
}
