package dev.quantspec.generate;

/**
 * How the next token is chosen. {@code temperature == 0} is greedy decoding (argmax, lowest id on
 * ties). Otherwise logits are divided by the temperature, then cut to the {@code topK} most likely
 * tokens (0 = no cut), then to the smallest set whose probability reaches {@code topP} (1 = no
 * cut), in that order (the Hugging Face order), and sampled with a generator seeded by {@code seed}.
 */
public record SamplingParams(float temperature, int topK, float topP, long seed) {
    public static final SamplingParams GREEDY = new SamplingParams(0f, 0, 1f, 0L);

    public SamplingParams {
        if (!(temperature >= 0f) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0, got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("topK must be >= 0 (0 disables it), got " + topK);
        }
        if (!(topP > 0f && topP <= 1f)) {
            throw new IllegalArgumentException("topP must be in (0, 1], got " + topP);
        }
    }

    public boolean greedy() {
        return temperature == 0f;
    }
}
