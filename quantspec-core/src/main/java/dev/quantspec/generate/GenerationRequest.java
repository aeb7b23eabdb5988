package dev.quantspec.generate;

import java.util.List;
import java.util.Objects;

/**
 * One generation: the prompt as token ids and how to continue it.
 *
 * @param promptIds    the prompt, special tokens included (as the tokenizer's post-processor adds them)
 * @param maxNewTokens most tokens to generate (>= 1)
 * @param sampling     greedy or sampling parameters
 * @param stopStrings  the text ends before the first of these (they never appear in the output)
 * @param ignoreEos    keep generating past end-of-sequence ids (benchmarks and reference checks)
 * @param decoder      autoregressive or QuantSpec
 * @param kvCache      the target's cache for autoregressive decoding (QuantSpec always uses the
 *                     hierarchical one)
 * @param gamma        draft length per QuantSpec round, or 0 for the engine's default
 */
public record GenerationRequest(int[] promptIds, int maxNewTokens, SamplingParams sampling,
                                List<String> stopStrings, boolean ignoreEos,
                                DecoderKind decoder, KvCacheKind kvCache, int gamma) {
    public GenerationRequest {
        Objects.requireNonNull(promptIds, "promptIds");
        Objects.requireNonNull(sampling, "sampling");
        Objects.requireNonNull(decoder, "decoder");
        Objects.requireNonNull(kvCache, "kvCache");
        stopStrings = List.copyOf(stopStrings);
        promptIds = promptIds.clone();
        if (promptIds.length == 0) {
            throw new IllegalArgumentException("the prompt is empty: at least one token (e.g. BOS) is needed");
        }
        if (maxNewTokens < 1) {
            throw new IllegalArgumentException("maxNewTokens must be >= 1, got " + maxNewTokens);
        }
        if (gamma < 0) {
            throw new IllegalArgumentException("gamma must be >= 1 (or 0 for the default), got " + gamma);
        }
        for (String s : stopStrings) {
            if (s.isEmpty()) {
                throw new IllegalArgumentException("stop strings must not be empty");
            }
        }
    }

    /** Greedy autoregressive decoding with a full-precision cache. */
    public static GenerationRequest greedy(int[] promptIds, int maxNewTokens) {
        return new GenerationRequest(promptIds, maxNewTokens, SamplingParams.GREEDY, List.of(), false,
                DecoderKind.AUTOREGRESSIVE, KvCacheKind.FULL, 0);
    }

    public GenerationRequest withDecoder(DecoderKind d, KvCacheKind cache, int g) {
        return new GenerationRequest(promptIds, maxNewTokens, sampling, stopStrings, ignoreEos, d, cache, g);
    }

    public GenerationRequest withIgnoreEos(boolean ignore) {
        return new GenerationRequest(promptIds, maxNewTokens, sampling, stopStrings, ignore, decoder, kvCache, gamma);
    }

    public GenerationRequest withSampling(SamplingParams s) {
        return new GenerationRequest(promptIds, maxNewTokens, s, stopStrings, ignoreEos, decoder, kvCache, gamma);
    }

    public GenerationRequest withStopStrings(List<String> stops) {
        return new GenerationRequest(promptIds, maxNewTokens, sampling, stops, ignoreEos, decoder, kvCache, gamma);
    }
}
