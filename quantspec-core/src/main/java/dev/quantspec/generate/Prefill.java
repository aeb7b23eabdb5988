package dev.quantspec.generate;

import dev.quantspec.cpu.CpuTransformer;
import dev.quantspec.cpu.ForwardState;
import dev.quantspec.kv.KvCache;
import dev.quantspec.kv.KvView;
import dev.quantspec.model.LlamaWeights;

/** Runs a prompt through the target in chunks; the last position's logits end in {@code state.logits} row 0. */
final class Prefill {
    private Prefill() {}

    static void run(CpuTransformer model, LlamaWeights weights, int[] prompt, KvCache cache, ForwardState state) {
        cache.reserve(prompt.length);
        int chunk = state.maxPositions();
        for (int start = 0; start < prompt.length; start += chunk) {
            int n = Math.min(chunk, prompt.length - start);
            model.forward(weights, prompt, start, n, start, cache, KvView.TARGET, state, false);
        }
        cache.accept(prompt.length);
    }
}
