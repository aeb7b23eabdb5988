package dev.quantspec.cuda;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Runs everywhere (no GPU): {@link DeviceSampler}'s host-side checks refuse what qs_sample cannot serve
 * before anything is launched. Buffers are size-only stand-ins (no device).
 */
class DeviceSamplerArgumentTest {
    private static DeviceBuffer sized(long bytes) {
        return new DeviceBuffer(null, "stand-in " + bytes + " bytes", 0L, bytes);
    }

    private final DeviceBuffer logits = sized(128256L * 4);

    @Test
    void should_accept_the_ranges_the_cpu_sampler_accepts() {
        assertThatCode(() -> DeviceSampler.check(logits, 128256, 0.7f, 50, 0.9f, 0.5)).doesNotThrowAnyException();
        assertThatCode(() -> DeviceSampler.check(logits, 1, 1f, 0, 1f, 0.0)).doesNotThrowAnyException();
        assertThatCode(() -> DeviceSampler.check(logits, 128256, 1e-3f, 200000, Float.MIN_VALUE, Math.nextDown(1.0)))
                .doesNotThrowAnyException();
        assertThatCode(() -> DeviceSampler.check(sized(DeviceSampler.MAX_VOCAB * 4L), DeviceSampler.MAX_VOCAB, 1f, 0, 1f,
                0.25)).doesNotThrowAnyException();
    }

    @Test
    void should_refuse_a_temperature_that_is_not_positive_and_finite() {
        for (float t : new float[] {0f, -0f, -1f, Float.NaN, Float.POSITIVE_INFINITY, Float.MIN_VALUE}) {
            assertThatThrownBy(() -> DeviceSampler.check(logits, 128256, t, 0, 1f, 0.5))
                    .as("temperature %s", t).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("temperature");
        }
    }

    @Test
    void should_refuse_a_negative_top_k() {
        assertThatThrownBy(() -> DeviceSampler.check(logits, 128256, 1f, -1, 1f, 0.5))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("topK");
    }

    @Test
    void should_refuse_a_top_p_outside_zero_to_one() {
        for (float p : new float[] {0f, -0.5f, Math.nextUp(1f), 2f, Float.NaN}) {
            assertThatThrownBy(() -> DeviceSampler.check(logits, 128256, 1f, 0, p, 0.5))
                    .as("topP %s", p).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("topP");
        }
    }

    @Test
    void should_refuse_a_uniform_number_outside_zero_to_one() {
        for (double u : new double[] {-1e-9, 1.0, Double.NaN}) {
            assertThatThrownBy(() -> DeviceSampler.check(logits, 128256, 1f, 0, 1f, u))
                    .as("u %s", u).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("u must");
        }
    }

    @Test
    void should_refuse_a_vocabulary_too_large_or_empty_and_a_short_buffer() {
        int tooLarge = DeviceSampler.MAX_VOCAB + 1;
        assertThatThrownBy(() -> DeviceSampler.check(sized(tooLarge * 4L), tooLarge, 1f, 0, 1f, 0.5))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("vocabularies");
        assertThatThrownBy(() -> DeviceSampler.check(logits, 0, 1f, 0, 1f, 0.5))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("vocabularies");
        assertThatThrownBy(() -> DeviceSampler.check(sized(128256L * 4 - 4), 128256, 1f, 0, 1f, 0.5))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("needed");
    }
}
