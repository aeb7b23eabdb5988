package dev.quantspec.generate;

import dev.quantspec.cuda.CudaTransformer;

/**
 * The autoregressive baseline on the GPU: the prompt is fed position by position, then one step
 * per token, each a replay of the captured decode-step graph. Greedy decoding uses the argmax the
 * step computes on the device (4 bytes come back per token); sampling downloads the logits and
 * draws with the same {@link TokenPicker} as the CPU backend, so a seed gives the same choices
 * whenever the logits agree.
 */
final class CudaAutoregressiveDecoder implements Decoder {
    private final CudaTransformer model;
    private final TokenPicker picker;

    CudaAutoregressiveDecoder(CudaTransformer model, TokenPicker picker) {
        this.model = model;
        this.picker = picker;
    }

    @Override
    public void run(int[] prompt, TokenEmitter emitter, DecodeStats stats) {
        long t0 = System.nanoTime();
        int next = choose(model.prefill(prompt, 0));
        long t1 = System.nanoTime();
        stats.prefillNanos = t1 - t0;
        int pos = prompt.length;
        while (emitter.emit(next)) {
            next = choose(model.step(next, pos));
            pos++;
            stats.targetPasses++;
        }
        stats.decodeNanos = System.nanoTime() - t1;
    }

    private int choose(int deviceArgmax) {
        return picker.greedy() ? deviceArgmax : picker.pick(model.logits(), 0);
    }
}
