package dev.quantspec.tokenizer;

import java.nio.file.Path;
import java.text.Normalizer;
import java.util.Map;
import java.util.OptionalInt;

/**
 * A byte-level BPE tokenizer (GPT-2 / Llama 3 family) read from a Hugging Face
 * {@code tokenizer.json}, producing exactly the ids of the Hugging Face {@code tokenizers} library.
 *
 * <p>Encoding follows the library's pipeline: added tokens (BOS, ChatML markers...) are cut out of
 * the raw text first ({@link AddedTokenMatcher}), the rest is optionally normalized and cut into
 * pieces ({@link PreTokenizer}), each piece becomes ids through the merges ({@link BytePairModel}),
 * and the post-processor's template adds BOS/EOS when asked. Decoding maps each token back to the
 * bytes it spells and decodes UTF-8 with the same replacement policy as the library.
 *
 * <p>Pure Java rather than a binding to the Rust library: the engine must run offline on any OS and
 * on the GPU host without native libraries, and the byte-level BPE subset needed here is small
 * enough to reproduce exactly (the reference cases check it id for id). Formats outside that subset
 * (WordPiece, Unigram, other normalizers or pre-tokenizers) are refused at load time with a
 * {@link dev.quantspec.ModelFormatException} rather than encoded approximately.
 *
 * <p>Instances are immutable apart from a thread-safe cache and may be shared between threads.
 */
public final class Tokenizer {
    private final Path source;
    private final BytePairModel model;
    private final PreTokenizer preTokenizer;
    /** Added tokens matched on the raw text ({@code normalized: false}), the first pass. */
    private final AddedTokenMatcher rawAddedTokens;
    /** Added tokens matched on normalized text ({@code normalized: true}), the second pass. */
    private final AddedTokenMatcher normalizedAddedTokens;
    /** The normalizer, or null for none (byte-level models normally have none). */
    private final Normalizer.Form normalization;
    /** [k] ids the post-processor puts before the text when special tokens are added (BOS). */
    private final int[] prefixIds;
    /** [k] ids the post-processor puts after the text when special tokens are added. */
    private final int[] suffixIds;
    /** Token spelling (vocabulary and added tokens) -> id. */
    private final Map<String, Integer> tokenIds;
    /** [vocabSize] token spelling by id; null where no token has that id. */
    private final String[] tokenTexts;
    /** [vocabSize][bytes] the bytes each token decodes to; null where no token has that id. */
    private final byte[][] tokenBytes;
    /** [vocabSize] true for added tokens marked special (dropped by skipSpecialTokens). */
    private final boolean[] special;

    Tokenizer(Path source, BytePairModel model, PreTokenizer preTokenizer,
              AddedTokenMatcher rawAddedTokens, AddedTokenMatcher normalizedAddedTokens,
              Normalizer.Form normalization, int[] prefixIds, int[] suffixIds,
              Map<String, Integer> tokenIds, String[] tokenTexts, boolean[] special) {
        this.source = source;
        this.model = model;
        this.preTokenizer = preTokenizer;
        this.rawAddedTokens = rawAddedTokens;
        this.normalizedAddedTokens = normalizedAddedTokens;
        this.normalization = normalization;
        this.prefixIds = prefixIds.clone();
        this.suffixIds = suffixIds.clone();
        this.tokenIds = Map.copyOf(tokenIds);
        this.tokenTexts = tokenTexts.clone();
        this.special = special.clone();
        this.tokenBytes = new byte[tokenTexts.length][];
        for (int id = 0; id < tokenTexts.length; id++) {
            if (tokenTexts[id] != null) {
                tokenBytes[id] = ByteLevelAlphabet.decode(tokenTexts[id]);
            }
        }
    }

    /**
     * Reads a Hugging Face {@code tokenizer.json}.
     *
     * @throws dev.quantspec.ModelFormatException if the file is missing, is not valid JSON, or
     *     describes a tokenizer this class does not reproduce exactly
     */
    public static Tokenizer load(Path tokenizerJson) {
        return TokenizerJsonReader.read(tokenizerJson);
    }

    /** Encodes with the post-processor's special tokens (BOS), like Hugging Face's default. */
    public int[] encode(String text) {
        return encode(text, true);
    }

    /**
     * Encodes {@code text}. Added tokens written in the text (such as {@code <|im_start|>}) are
     * always matched as single ids; {@code addSpecialTokens} only controls whether the
     * post-processor adds its own (BOS), as in Hugging Face's {@code add_special_tokens}.
     */
    public int[] encode(String text, boolean addSpecialTokens) {
        IntList out = new IntList(text.length() / 3 + 8);
        if (addSpecialTokens) {
            out.addAll(prefixIds);
        }
        rawAddedTokens.split(text, new AddedTokenMatcher.Sink() {
            @Override
            public void text(int start, int end) {
                encodeOrdinaryText(text.substring(start, end), out);
            }

            @Override
            public void token(AddedToken token) {
                out.add(token.id());
            }
        });
        if (addSpecialTokens) {
            out.addAll(suffixIds);
        }
        return out.toArray();
    }

    private void encodeOrdinaryText(String segment, IntList out) {
        String normalized = normalization == null ? segment : Normalizer.normalize(segment, normalization);
        normalizedAddedTokens.split(normalized, new AddedTokenMatcher.Sink() {
            @Override
            public void text(int start, int end) {
                preTokenizer.split(normalized.substring(start, end), piece -> model.encode(piece, out));
            }

            @Override
            public void token(AddedToken token) {
                out.add(token.id());
            }
        });
    }

    /** Decodes every id, special tokens included (they render as their text). */
    public String decode(int[] ids) {
        return decode(ids, false);
    }

    /**
     * Decodes ids to text. Invalid UTF-8 (a sequence cut mid-character) becomes U+FFFD. Like
     * Hugging Face, an id that names no token is skipped rather than rejected.
     */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        ByteBuffer bytes = new ByteBuffer(ids.length * 4);
        for (int id : ids) {
            byte[] b = bytesOf(id, skipSpecialTokens);
            if (b != null) {
                bytes.append(b);
            }
        }
        return LossyUtf8.decode(bytes.array(), bytes.size());
    }

    /** A decoder for ids that arrive one at a time (generation); see {@link StreamingDecoder}. */
    public StreamingDecoder newStreamingDecoder(boolean skipSpecialTokens) {
        return new StreamingDecoder(this, skipSpecialTokens);
    }

    /** One more than the highest token id: the row count an embedding table needs. */
    public int vocabSize() {
        return tokenTexts.length;
    }

    /** The id of a token given by its spelling, e.g. {@code "<|im_end|>"} or {@code "Ġthe"}. */
    public OptionalInt tokenId(String token) {
        Integer id = tokenIds.get(token);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    /** The token's spelling as stored in tokenizer.json (byte-level characters, e.g. {@code "Ġthe"}). */
    public String tokenText(int id) {
        if (id < 0 || id >= tokenTexts.length || tokenTexts[id] == null) {
            throw new IllegalArgumentException("token id " + id + " is not in the vocabulary of " + source
                    + " (ids run from 0 to " + (tokenTexts.length - 1) + ")");
        }
        return tokenTexts[id];
    }

    /** True for added tokens marked {@code special} (BOS, EOS, ChatML markers). */
    public boolean isSpecial(int id) {
        return id >= 0 && id < special.length && special[id];
    }

    /** The bytes id decodes to, or null when it names no token or is a skipped special token. */
    byte[] bytesOf(int id, boolean skipSpecialTokens) {
        if (id < 0 || id >= tokenBytes.length || (skipSpecialTokens && special[id])) {
            return null;
        }
        return tokenBytes[id];
    }

    @Override
    public String toString() {
        return "Tokenizer[" + source + ", " + tokenTexts.length + " ids]";
    }

    /** A growable byte array for assembling a decode. */
    static final class ByteBuffer {
        /** [capacity] the bytes; only the first {@code size} are in use. */
        private byte[] bytes;
        private int size;

        ByteBuffer(int initialCapacity) {
            bytes = new byte[Math.max(16, initialCapacity)];
        }

        void append(byte[] more) {
            if (size + more.length > bytes.length) {
                bytes = java.util.Arrays.copyOf(bytes, Math.max(bytes.length * 2, size + more.length));
            }
            System.arraycopy(more, 0, bytes, size, more.length);
            size += more.length;
        }

        /** Drops the first {@code count} bytes (already decoded by a streaming decoder). */
        void discard(int count) {
            System.arraycopy(bytes, count, bytes, 0, size - count);
            size -= count;
        }

        byte[] array() {
            return bytes;
        }

        int size() {
            return size;
        }
    }
}
