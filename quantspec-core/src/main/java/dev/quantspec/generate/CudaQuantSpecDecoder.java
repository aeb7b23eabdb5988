package dev.quantspec.generate;

import dev.quantspec.cuda.CudaQuantSpecModel;
import dev.quantspec.cuda.DeviceSampler;

/**
 * QuantSpec on the GPU, round for round as {@link QuantSpecDecoder} on the CPU: up to γ draft steps
 * (4-bit weights, INT4 view), one target pass over the round's γ+1 positions (INT8 view), the
 * longest acceptable prefix plus one target token kept, the cache rolled back to them and flushed
 * when full. Rounds never cross a flush, so greedy output equals step-by-step decoding with the same
 * cache (γ = 0 is exactly that: one-position target passes).
 *
 * <p>A greedy round is one graph launch ({@link CudaQuantSpecModel#greedyRound}: drafts and
 * verification back to back on the device, argmax on the device) and one download of its tokens.
 * A sampled round is one graph launch too ({@link CudaQuantSpecModel#sampledRound}): the draft and
 * target distributions, the draws and the acceptance rule run on the device, with 2γ + 1 uniform
 * numbers per round from the request's seeded generator, so a seed reproduces a generation. Above
 * the device sampler's vocabulary limit, or with {@value #HOST_SAMPLING_PROPERTY}=true, sampling
 * runs step by step instead: each pass's logits come back and are drawn from with the CPU's
 * {@link TokenPicker} and {@link SpeculativeSampling} (a seed then gives the CPU backend's choices
 * whenever the logits agree).
 */
final class CudaQuantSpecDecoder implements Decoder {
    /** System property: sample QuantSpec rounds on the host, step by step (the CPU backend's random stream). */
    static final String HOST_SAMPLING_PROPERTY = "quantspec.cuda.hostSampling";

    private final CudaQuantSpecModel model;
    private final TokenPicker picker;
    private final int gamma;
    private final int prefillChunk;
    private final int vocab;
    private final int[] window;          // [γ+1]: the round's input token, then the drafts
    private final float[] draftProbs;    // [γ][vocab] q_i, sampling only
    private final float[] targetProbs;   // [γ+1][vocab] p_i, sampling only
    private final java.util.function.DoubleSupplier uniform;
    private final boolean sampleOnDevice;

    CudaQuantSpecDecoder(CudaQuantSpecModel model, TokenPicker picker, int gamma, int prefillChunk) {
        if (gamma + 1 > model.maxPass()) {
            throw new IllegalArgumentException("gamma " + gamma + " needs passes of " + (gamma + 1)
                    + " rows; this GPU model was built for " + model.maxPass());
        }
        this.model = model;
        this.picker = picker;
        this.gamma = gamma;
        this.prefillChunk = prefillChunk;
        this.vocab = model.config().vocabSize();
        this.window = new int[gamma + 1];
        this.uniform = picker::uniform;
        this.sampleOnDevice = !picker.greedy() && vocab <= DeviceSampler.MAX_VOCAB
                && !Boolean.getBoolean(HOST_SAMPLING_PROPERTY);
        boolean hostSampling = !picker.greedy() && !sampleOnDevice;
        this.draftProbs = hostSampling ? new float[gamma * vocab] : new float[0];
        this.targetProbs = hostSampling ? new float[(gamma + 1) * vocab] : new float[0];
    }

    @Override
    public void run(int[] prompt, TokenEmitter emitter, DecodeStats stats) {
        long t0 = System.nanoTime();
        int next = model.prefill(prompt, prefillChunk);
        if (!picker.greedy()) next = picker.pick(model.logits(1), 0);
        long t1 = System.nanoTime();
        stats.prefillNanos = t1 - t0;
        long quantizeAfterPrefill = model.quantizeNanos();
        boolean going = emitter.emit(next);
        while (going) {
            next = round(next, emitter, stats);
            going = next >= 0;
        }
        stats.decodeNanos = System.nanoTime() - t1;
        stats.quantizeNanos = model.quantizeNanos();
        stats.verifyNanos -= model.quantizeNanos() - quantizeAfterPrefill; // flushes run inside accept()
    }

    /** One round from {@code input}; emits what is accepted and returns the next input, or -1 when generation ended. */
    private int round(int input, TokenEmitter emitter, DecodeStats stats) {
        int pos = model.length();
        int g = Math.max(0, Math.min(gamma, Math.min(model.positionsBeforeViewChange() - 1, emitter.remaining() - 1)));
        window[0] = input;

        if (picker.greedy()) return greedyRound(input, g, pos, emitter, stats);
        if (sampleOnDevice) return sampledRound(input, g, pos, emitter, stats);
        long t0 = System.nanoTime();
        for (int i = 0; i < g; i++) {
            model.draftStep(window[i], i);
            picker.distribution(model.logits(1), 0, draftProbs, i * vocab);
            window[i + 1] = picker.sample(draftProbs, i * vocab);
        }
        long t1 = System.nanoTime();
        model.verify(window, g + 1);

        float[] logits = model.logits(g + 1);
        for (int i = 0; i <= g; i++) picker.distribution(logits, i * vocab, targetProbs, i * vocab);
        long verdict = SpeculativeSampling.verify(window, draftProbs, targetProbs, g, vocab, uniform);
        int accepted = (int) (verdict >>> 32);
        int last = (int) verdict;
        model.accept(pos + accepted + 1);
        stats.draftNanos += t1 - t0;
        stats.verifyNanos += System.nanoTime() - t1;
        return finish(g, accepted, last, emitter, stats);
    }

    /**
     * A greedy round as one graph launch (the drafts and the verification back to back on the device):
     * keep drafts while they equal the target's argmax; the target's choice at the first mismatch (or
     * after all g) is the round's extra token. The draft/verify split of the time is not observable
     * from the host here, so the round's time counts as verification.
     */
    private int greedyRound(int input, int g, int pos, TokenEmitter emitter, DecodeStats stats) {
        long t0 = System.nanoTime();
        int[] outcome = model.greedyRound(input, g);  // [g drafts][g + 1 target argmax]
        int accepted = 0;
        while (accepted < g && outcome[accepted] == outcome[g + accepted]) accepted++;
        for (int i = 0; i < g; i++) window[i + 1] = outcome[i];
        model.accept(pos + accepted + 1);
        stats.verifyNanos += System.nanoTime() - t0;
        return finish(g, accepted, outcome[g + accepted], emitter, stats);
    }

    /** A sampled round as one graph launch (see the class comment); its time counts as verification. */
    private int sampledRound(int input, int g, int pos, TokenEmitter emitter, DecodeStats stats) {
        long t0 = System.nanoTime();
        double[] uniforms = new double[2 * g + 1];
        for (int i = 0; i < uniforms.length; i++) uniforms[i] = picker.uniform();
        SamplingParams p = picker.params();
        int[] outcome = model.sampledRound(input, g, p.temperature(), p.topK(), p.topP(), uniforms);
        int accepted = outcome[g];
        for (int i = 0; i < g; i++) window[i + 1] = outcome[i];
        model.accept(pos + accepted + 1);
        stats.verifyNanos += System.nanoTime() - t0;
        return finish(g, accepted, outcome[g + 1], emitter, stats);
    }

    private int finish(int g, int accepted, int last, TokenEmitter emitter, DecodeStats stats) {
        stats.recordRound(g, accepted);
        for (int i = 1; i <= accepted; i++) {
            if (!emitter.emit(window[i])) return -1;
        }
        return emitter.emit(last) ? last : -1;
    }
}
