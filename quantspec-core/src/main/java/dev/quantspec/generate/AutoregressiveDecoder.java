package dev.quantspec.generate;

import dev.quantspec.cpu.CpuTransformer;
import dev.quantspec.cpu.ForwardState;
import dev.quantspec.kv.KvCache;
import dev.quantspec.kv.KvView;
import dev.quantspec.model.LlamaWeights;

/** The baseline: prefill, then one target pass per token. */
final class AutoregressiveDecoder implements Decoder {
    private final CpuTransformer model;
    private final LlamaWeights weights;
    private final KvCache cache;
    private final ForwardState state;
    private final TokenPicker picker;
    private final int vocab;

    AutoregressiveDecoder(CpuTransformer model, LlamaWeights weights, KvCache cache, ForwardState state, TokenPicker picker) {
        this.model = model;
        this.weights = weights;
        this.cache = cache;
        this.state = state;
        this.picker = picker;
        this.vocab = model.config().vocabSize();
    }

    @Override
    public void run(int[] prompt, TokenEmitter emitter, DecodeStats stats) {
        long t0 = System.nanoTime();
        Prefill.run(model, weights, prompt, cache, state);
        int next = picker.pick(state.logits, 0);
        long t1 = System.nanoTime();
        stats.prefillNanos = t1 - t0;
        int pos = prompt.length;
        int[] one = new int[1];
        while (emitter.emit(next)) {
            one[0] = next;
            cache.reserve(pos + 1);
            model.forward(weights, one, 0, 1, pos, cache, KvView.TARGET, state, false);
            cache.accept(pos + 1);
            pos++;
            next = picker.pick(state.logits, 0);
            stats.targetPasses++;
        }
        stats.decodeNanos = System.nanoTime() - t1;
    }
}
