package dev.quantspec.generate;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What one request cost: token counts, time per phase and, for QuantSpec, the speculation figures.
 * Filled in by the decoder on the decoding thread; read after the request completes.
 */
public final class DecodeStats {
    private final String decoder;
    int promptTokens;
    int generatedTokens;
    long prefillNanos;
    long decodeNanos;
    // QuantSpec only
    long drafted;
    long accepted;
    long targetPasses;
    long draftNanos;
    long verifyNanos;
    long quantizeNanos;
    long[] acceptedLengthHistogram = new long[0]; // [gamma+1]: rounds that accepted 0..gamma drafts

    public DecodeStats(String decoder) {
        this.decoder = decoder;
    }

    void recordRound(int draftedThisRound, int acceptedThisRound) {
        drafted += draftedThisRound;
        accepted += acceptedThisRound;
        targetPasses++;
        if (acceptedLengthHistogram.length <= acceptedThisRound) {
            acceptedLengthHistogram = Arrays.copyOf(acceptedLengthHistogram, acceptedThisRound + 1);
        }
        acceptedLengthHistogram[acceptedThisRound]++;
    }

    public String decoder() {
        return decoder;
    }

    public int promptTokens() {
        return promptTokens;
    }

    public int generatedTokens() {
        return generatedTokens;
    }

    public long drafted() {
        return drafted;
    }

    public long accepted() {
        return accepted;
    }

    public long targetPasses() {
        return targetPasses;
    }

    /** Accepted drafts / drafted tokens, or NaN when nothing was drafted. */
    public double acceptanceRate() {
        return drafted == 0 ? Double.NaN : (double) accepted / drafted;
    }

    /** Generated tokens per target forward pass after the prefill (1 for autoregressive decoding). */
    public double tokensPerTargetPass() {
        return targetPasses == 0 ? Double.NaN : (double) (generatedTokens - 1) / targetPasses;
    }

    public long[] acceptedLengthHistogram() {
        return acceptedLengthHistogram.clone();
    }

    public double prefillSeconds() {
        return prefillNanos / 1e9;
    }

    public double decodeSeconds() {
        return decodeNanos / 1e9;
    }

    /** Prompt tokens per second of prefill. */
    public double prefillTokensPerSecond() {
        return prefillNanos == 0 ? Double.NaN : promptTokens / (prefillNanos / 1e9);
    }

    /** Tokens per second after the first one (the first comes from the prefill). */
    public double decodeTokensPerSecond() {
        return decodeNanos == 0 ? Double.NaN : (generatedTokens - 1) / (decodeNanos / 1e9);
    }

    public double draftSeconds() {
        return draftNanos / 1e9;
    }

    public double verifySeconds() {
        return verifyNanos / 1e9;
    }

    public double quantizeSeconds() {
        return quantizeNanos / 1e9;
    }

    /** A JSON-friendly view (the CLI's "stats" object). */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("decoder", decoder);
        m.put("prompt_tokens", promptTokens);
        m.put("generated_tokens", generatedTokens);
        m.put("prefill_s", round(prefillSeconds()));
        m.put("decode_s", round(decodeSeconds()));
        m.put("prefill_tokens_per_s", round(prefillTokensPerSecond()));
        m.put("decode_tokens_per_s", round(decodeTokensPerSecond()));
        if (drafted > 0 || targetPasses > 0) {
            m.put("drafted", drafted);
            m.put("accepted", accepted);
            m.put("acceptance_rate", round(acceptanceRate()));
            m.put("target_passes", targetPasses);
            m.put("tokens_per_target_pass", round(tokensPerTargetPass()));
            m.put("accepted_length_histogram", acceptedLengthHistogram.clone());
            m.put("draft_s", round(draftSeconds()));
            m.put("verify_s", round(verifySeconds()));
            m.put("quantize_s", round(quantizeSeconds()));
        } else if (quantizeNanos > 0) {
            m.put("quantize_s", round(quantizeSeconds()));
        }
        return m;
    }

    private static Object round(double v) {
        return Double.isFinite(v) ? Math.round(v * 1e4) / 1e4 : null;
    }
}
