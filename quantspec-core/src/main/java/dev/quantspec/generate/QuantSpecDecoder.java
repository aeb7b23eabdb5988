package dev.quantspec.generate;

import dev.quantspec.cpu.CpuTransformer;
import dev.quantspec.cpu.ForwardState;
import dev.quantspec.kv.HierarchicalKvCache;
import dev.quantspec.kv.KvView;
import dev.quantspec.model.LlamaWeights;

/**
 * Self-speculative decoding (QuantSpec). Each round, the draft (4-bit weights, INT4 view of the
 * shared hierarchical cache) proposes up to γ tokens one at a time; the target (original weights,
 * INT8 view) scores all of them in one pass; the longest acceptable prefix is kept plus one token
 * from the target, and the cache is rolled back to what was accepted.
 */
final class QuantSpecDecoder implements Decoder {
    private final CpuTransformer model;
    private final LlamaWeights target;
    private final LlamaWeights draft;
    private final HierarchicalKvCache cache;
    private final ForwardState state;      // logits for γ+1 positions
    private final TokenPicker picker;
    private final int gamma;
    private final KvView draftView;
    private final int vocab;
    private final int[] window;            // [γ+1]: the round's input token, then the drafts
    private final float[] draftProbs;      // [γ][vocab] q_i, sampling only
    private final float[] targetProbs;     // [γ+1][vocab] p_i, sampling only
    private final java.util.function.DoubleSupplier uniform;

    QuantSpecDecoder(CpuTransformer model, LlamaWeights target, LlamaWeights draft, HierarchicalKvCache cache,
                     ForwardState state, TokenPicker picker, int gamma, KvView draftView) {
        this.model = model;
        this.target = target;
        this.draft = draft;
        this.cache = cache;
        this.state = state;
        this.picker = picker;
        this.gamma = gamma;
        this.draftView = draftView;
        this.vocab = model.config().vocabSize();
        this.window = new int[gamma + 1];
        this.uniform = picker::uniform;
        this.draftProbs = picker.greedy() ? new float[0] : new float[gamma * vocab];
        this.targetProbs = picker.greedy() ? new float[0] : new float[(gamma + 1) * vocab];
    }

    @Override
    public void run(int[] prompt, TokenEmitter emitter, DecodeStats stats) {
        long t0 = System.nanoTime();
        Prefill.run(model, target, prompt, cache, state);
        int next = picker.pick(state.logits, 0);
        long t1 = System.nanoTime();
        stats.prefillNanos = t1 - t0;
        long quantizeBefore = cache.quantizeNanos();
        boolean going = emitter.emit(next);
        while (going) {
            next = round(next, emitter, stats);
            going = next >= 0;
        }
        stats.decodeNanos = System.nanoTime() - t1;
        stats.quantizeNanos = cache.quantizeNanos();
        stats.verifyNanos -= cache.quantizeNanos() - quantizeBefore; // flushes run inside accept()
    }

    /**
     * One draft-verify round starting from {@code input} at position {@code cache.length()}; emits the
     * accepted tokens and returns the round's last token (the next round's input), or -1 when the
     * emitter ended generation.
     */
    private int round(int input, TokenEmitter emitter, DecodeStats stats) {
        int pos = cache.length();
        // Never let a round cross a flush (exactness) nor draft what the budget cannot emit.
        int g = Math.min(gamma, Math.min(cache.positionsBeforeViewChange() - 1, emitter.remaining() - 1));
        g = Math.max(g, 0);
        window[0] = input;

        long t0 = System.nanoTime();
        for (int i = 0; i < g; i++) {
            cache.reserve(pos + i + 1);
            model.forward(draft, window, i, 1, pos + i, cache, draftView, state, false);
            if (picker.greedy()) {
                window[i + 1] = TokenDistribution.argmax(state.logits, 0, vocab);
            } else {
                picker.distribution(state.logits, 0, draftProbs, i * vocab);
                window[i + 1] = picker.sample(draftProbs, i * vocab);
            }
        }
        long t1 = System.nanoTime();
        cache.reserve(pos + g + 1);
        model.forward(target, window, 0, g + 1, pos, cache, KvView.TARGET, state, true);

        int accepted = 0;
        int last;
        if (picker.greedy()) {
            // Keep drafts while they equal the target's argmax; the target's choice at the first
            // mismatch (or after all γ) is the round's extra token. Output = target alone.
            while (accepted < g && window[accepted + 1] == TokenDistribution.argmax(state.logits, accepted * vocab, vocab)) {
                accepted++;
            }
            last = TokenDistribution.argmax(state.logits, accepted * vocab, vocab);
        } else {
            for (int i = 0; i <= g; i++) {
                picker.distribution(state.logits, i * vocab, targetProbs, i * vocab);
            }
            long verdict = SpeculativeSampling.verify(window, draftProbs, targetProbs, g, vocab, uniform);
            accepted = (int) (verdict >>> 32);
            last = (int) verdict;
        }
        cache.accept(pos + accepted + 1);
        stats.draftNanos += t1 - t0;
        stats.verifyNanos += System.nanoTime() - t1;
        stats.recordRound(g, accepted);

        for (int i = 1; i <= accepted; i++) {
            if (!emitter.emit(window[i])) {
                return -1;
            }
        }
        return emitter.emit(last) ? last : -1;
    }
}
