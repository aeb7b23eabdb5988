package dev.quantspec.kv;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quantspec.quant.ResidualQuantizer;
import dev.quantspec.quant.TextbookHalves;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The hierarchical cache's buffer policy and reads, driven like the QuantSpec decoder drives it
 * (prefill, then rounds of γ+1 written positions with a random number accepted), checked after
 * every round against a plain record of everything written.
 */
class HierarchicalKvCacheTest {
    private static final KvShape SHAPE = new KvShape(2, 4, 2, 8);
    private static final int G = 4;

    /** Everything ever accepted, in full precision: [pos][layer][kvDim] keys and values. */
    private static final class Record {
        final float[][][] keys;
        final float[][][] values;
        final KvShape shape;

        Record(int capacity) {
            this(capacity, SHAPE);
        }

        Record(int capacity, KvShape shape) {
            this.shape = shape;
            keys = new float[capacity][shape.layers()][shape.kvDim()];
            values = new float[capacity][shape.layers()][shape.kvDim()];
        }
    }

    private static void writeRandom(HierarchicalKvCache cache, Record rec, int pos, SplittableRandom rnd) {
        for (int l = 0; l < rec.shape.layers(); l++) {
            for (int i = 0; i < rec.shape.kvDim(); i++) {
                rec.keys[pos][l][i] = (float) (rnd.nextGaussian() * (1 + i % 3));
                rec.values[pos][l][i] = (float) rnd.nextGaussian();
            }
            cache.write(l, pos, rec.keys[pos][l], 0, rec.values[pos][l], 0);
        }
    }

    @ParameterizedTest(name = "prompt of {0} tokens")
    @ValueSource(ints = {1, 3, 4, 7, 8, 9, 13, 16, 30})
    void should_keep_buffer_invariants_and_exact_reads_over_long_generations(int promptLength) {
        // given
        int gamma = 3;
        int capacity = promptLength + 200 + gamma + 1;
        HierarchicalKvCache cache = new HierarchicalKvCache(SHAPE, new HierarchicalCacheConfig(G, 4, G), capacity, gamma + 1);
        Record rec = new Record(capacity);
        SplittableRandom rnd = new SplittableRandom(promptLength);

        // when: the prefill
        cache.reserve(promptLength);
        for (int p = 0; p < promptLength; p++) {
            writeRandom(cache, rec, p, rnd);
        }
        cache.accept(promptLength);

        // then: the prefill split (L > 2G), or the flush that 2G buffered tokens trigger (L = 2G)
        int expectedQuantized = promptLength >= 2 * G ? promptLength - G - promptLength % G : 0;
        assertThat(cache.quantizedLength()).isEqualTo(expectedQuantized);
        checkReads(cache, rec);

        // when: rounds with random acceptance, including rejections right after a flush
        int flushes = 0;
        while (cache.length() < promptLength + 190) {
            int pos = cache.length();
            int g = Math.min(gamma, cache.positionsBeforeViewChange() - 1);
            assertThat(g).isGreaterThanOrEqualTo(0);
            cache.reserve(pos + g + 1);
            for (int i = 0; i <= g; i++) {
                writeRandom(cache, rec, pos + i, rnd); // draft and target both write; the last write wins
            }
            int before = cache.quantizedLength();
            int accepted = rnd.nextInt(g + 1);
            cache.accept(pos + accepted + 1);
            if (cache.quantizedLength() > before) {
                flushes++;
                assertThat(cache.quantizedLength() - before).as("a flush quantizes exactly one group").isEqualTo(G);
            }

            // then, after every round
            assertThat(cache.length()).isEqualTo(pos + accepted + 1);
            assertThat(cache.quantizedLength() % G).isZero();
            assertThat(cache.bufferedLength()).isLessThan(2 * G);
            if (cache.quantizedLength() > 0) {
                assertThat(cache.bufferedLength()).isGreaterThanOrEqualTo(G);
            }
            checkReads(cache, rec);
        }
        assertThat(flushes).as("the generation crossed several flushes").isGreaterThan(10);
    }

    /** Quantized positions read back exactly as the quantizer's formulas give; buffered ones exactly. */
    private static void checkReads(HierarchicalKvCache cache, Record rec) {
        int hd = SHAPE.headDim();
        for (int l = 0; l < SHAPE.layers(); l++) {
            for (int h = 0; h < SHAPE.kvHeads(); h++) {
                for (int t = 0; t < cache.length(); t++) {
                    for (int c = 0; c < hd; c++) {
                        float k = rec.keys[t][l][h * hd + c];
                        float v = rec.values[t][l][h * hd + c];
                        if (t >= cache.quantizedLength()) {
                            assertThat(cache.dequantizedKey(l, h, t, c, KvView.TARGET)).isEqualTo(k);
                            assertThat(cache.dequantizedValue(l, h, t, c, KvView.DRAFT)).isEqualTo(v);
                        } else {
                            float[] expected = referenceKey(rec, l, h, t, c);
                            assertThat(cache.dequantizedKey(l, h, t, c, KvView.DRAFT)).isEqualTo(expected[0]);
                            assertThat(cache.dequantizedKey(l, h, t, c, KvView.TARGET)).isEqualTo(expected[1]);
                        }
                    }
                }
            }
        }
    }

    /** The key group of (layer, head, channel) containing t, quantized independently: {x4, x8} of token t. */
    private static float[] referenceKey(Record rec, int l, int h, int t, int c) {
        int hd = SHAPE.headDim();
        int first = t / G * G;
        float mn = Float.POSITIVE_INFINITY, mx = Float.NEGATIVE_INFINITY;
        for (int i = first; i < first + G; i++) {
            mn = Math.min(mn, rec.keys[i][l][h * hd + c]);
            mx = Math.max(mx, rec.keys[i][l][h * hd + c]);
        }
        mn = TextbookHalves.atOrBelow(mn);  // the params are halves: the minimum rounded down, the scale up
        float scale = TextbookHalves.atOrAbove(Math.max((mx - mn) / 15f, ResidualQuantizer.SCALE_FLOOR));
        float x = rec.keys[t][l][h * hd + c];
        int u = (int) Math.max(0, Math.min(15, Math.rint((x - mn) / scale)));
        int lo = (int) Math.max(-8, Math.min(7, Math.rint((x - (u * scale + mn)) / (scale / 16)))) + 8;
        return new float[] {ResidualQuantizer.dequant4(u, scale, mn), ResidualQuantizer.dequant8(u, lo, scale, mn)};
    }

    @ParameterizedTest(name = "head dim {0}, value group {1}")
    @org.junit.jupiter.params.provider.CsvSource({"8,4", "64,64", "64,32", "128,64"})
    void should_attend_like_a_scalar_reference_over_the_dequantized_cache(int headDim, int valueGroup) {
        // given: a cache with quantized groups and a buffer (head dims 64/128 run the SIMD loops)
        KvShape shapeUnderTest = new KvShape(2, 4, 2, headDim);
        int capacity = 64;
        HierarchicalKvCache cache = new HierarchicalKvCache(shapeUnderTest, new HierarchicalCacheConfig(G, valueGroup, G), capacity, 1);
        Record rec = new Record(capacity, shapeUnderTest);
        SplittableRandom rnd = new SplittableRandom(7);
        cache.reserve(23);
        for (int p = 0; p < 23; p++) {
            writeRandom(cache, rec, p, rnd);
        }
        cache.accept(23);
        assertThat(cache.quantizedLength()).isEqualTo(16);
        float[] q = new float[shapeUnderTest.headDim()];
        for (int i = 0; i < q.length; i++) {
            q[i] = (float) rnd.nextGaussian();
        }

        for (KvView view : KvView.values()) {
            for (int head = 0; head < shapeUnderTest.heads(); head++) {
                // when
                float[] out = new float[shapeUnderTest.headDim()];
                cache.attend(1, head, 22, q, 0, out, 0, new float[cache.scratchSize()], view);

                // then: softmax(q·k/sqrt(d)) v over keys and values as the view reads them, in double
                int kvh = head / shapeUnderTest.group();
                double[] s = new double[23];
                double max = Double.NEGATIVE_INFINITY;
                for (int t = 0; t < 23; t++) {
                    double dot = 0;
                    for (int c = 0; c < shapeUnderTest.headDim(); c++) {
                        dot += q[c] * cache.dequantizedKey(1, kvh, t, c, view);
                    }
                    s[t] = dot / Math.sqrt(shapeUnderTest.headDim());
                    max = Math.max(max, s[t]);
                }
                double sum = 0;
                for (int t = 0; t < 23; t++) {
                    s[t] = Math.exp(s[t] - max);
                    sum += s[t];
                }
                for (int c = 0; c < shapeUnderTest.headDim(); c++) {
                    double expected = 0;
                    for (int t = 0; t < 23; t++) {
                        expected += s[t] / sum * cache.dequantizedValue(1, kvh, t, c, view);
                    }
                    assertThat((double) out[c]).as("%s head %d channel %d", view, head, c)
                            .isCloseTo(expected, org.assertj.core.data.Offset.offset(2e-5 * (1 + Math.abs(expected))));
                }
            }
        }
    }

    @Test
    void should_read_the_draft_view_less_precisely_than_the_target_view() {
        // given
        HierarchicalKvCache cache = new HierarchicalKvCache(SHAPE, new HierarchicalCacheConfig(G, 8, G), 64, 1);
        Record rec = new Record(64);
        SplittableRandom rnd = new SplittableRandom(3);
        cache.reserve(40);
        for (int p = 0; p < 40; p++) {
            writeRandom(cache, rec, p, rnd);
        }
        cache.accept(40);

        // when
        double err4 = 0, err8 = 0;
        for (int t = 0; t < cache.quantizedLength(); t++) {
            for (int c = 0; c < SHAPE.headDim(); c++) {
                float v = rec.values[t][0][c];
                err4 += Math.abs(cache.dequantizedValue(0, 0, t, c, KvView.DRAFT) - v);
                err8 += Math.abs(cache.dequantizedValue(0, 0, t, c, KvView.TARGET) - v);
            }
        }

        // then: the lower nibble refines the upper by about 16x
        assertThat(err8).isLessThan(err4 / 8);
    }

    @Test
    void should_refuse_to_roll_back_into_quantized_data_and_to_overflow() {
        HierarchicalKvCache cache = new HierarchicalKvCache(SHAPE, new HierarchicalCacheConfig(G, 4, G), 40, 2);
        Record rec = new Record(40);
        SplittableRandom rnd = new SplittableRandom(1);
        cache.reserve(20);
        for (int p = 0; p < 20; p++) {
            writeRandom(cache, rec, p, rnd);
        }
        cache.accept(20);
        assertThatThrownBy(() -> cache.accept(cache.quantizedLength() - 1)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> cache.reserve(41)).hasMessageContaining("KV cache full");
        assertThatThrownBy(() -> cache.write(0, 30, rec.keys[0][0], 0, rec.values[0][0], 0))
                .hasMessageContaining("not writable");
    }

    @Test
    void should_report_fewer_bytes_per_token_than_fp16() {
        // qs-small's shape: 8 layers, 4 kv heads of 64; fp16 holds 2*8*4*64*2 = 8192 bytes per token
        KvShape qsSmall = new KvShape(8, 8, 4, 64);
        HierarchicalKvCache cache = new HierarchicalKvCache(qsSmall, HierarchicalCacheConfig.defaults(64), 300, 5);
        // two nibble planes = 1 byte per element (half of fp16) plus fp32 scale/min per key group
        // channel (amortized over G = 128 tokens) and per value group of each token
        assertThat(cache.bytesPerToken()).isEqualTo(8 * 4 * (2 * 64 + 2 * 2 * 64 / 128.0 + 2 * 2 * 1));
        assertThat(cache.bytesPerToken()).isLessThan(8192 * 0.6);
    }
}
