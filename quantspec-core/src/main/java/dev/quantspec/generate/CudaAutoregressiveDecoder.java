package dev.quantspec.generate;

import dev.quantspec.cuda.CudaTransformer;
import dev.quantspec.cuda.DeviceSampler;

/**
 * The autoregressive baseline on the GPU: the prompt is fed position by position, then one step
 * per token, each a replay of the captured decode-step graph. Greedy decoding uses the argmax the
 * step computes on the device; sampling draws on the device too ({@link CudaTransformer#sampleNext}:
 * the CPU's temperature / top-k / top-p distribution, up to float rounding), with the uniform number
 * taken from the request's seeded generator in {@link TokenPicker}, one per token as on the CPU. Either
 * way 4 bytes come back per token. Vocabularies above {@link DeviceSampler#MAX_VOCAB} download the
 * logits and draw on the host with the same picker.
 */
final class CudaAutoregressiveDecoder implements Decoder {
    private final CudaTransformer model;
    private final TokenPicker picker;
    private final boolean sampleOnDevice;

    CudaAutoregressiveDecoder(CudaTransformer model, TokenPicker picker) {
        this.model = model;
        this.picker = picker;
        this.sampleOnDevice = model.config().vocabSize() <= DeviceSampler.MAX_VOCAB;
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
        if (picker.greedy()) {
            return deviceArgmax;
        }
        SamplingParams p = picker.params();
        if (!sampleOnDevice || Float.isInfinite(1f / p.temperature())) {  // (a subnormal temperature: host)
            return picker.pick(model.logits(), 0);
        }
        return model.sampleNext(p.temperature(), p.topK(), p.topP(), picker.uniform());
    }
}
