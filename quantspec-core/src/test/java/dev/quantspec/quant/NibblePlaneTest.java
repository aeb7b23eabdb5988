package dev.quantspec.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.junit.jupiter.api.Test;

class NibblePlaneTest {

    @Test
    void should_store_even_positions_in_the_low_nibble_and_odd_in_the_high() {
        // given
        NibblePlane plane = new NibblePlane(4);

        // when
        plane.set(0, 0xA);
        plane.set(1, 0x5);
        plane.set(3, 0xF);

        // then
        assertThat(plane.bytes()).containsExactly((byte) 0x5A, (byte) 0xF0);
        assertThat(plane.get(0)).isEqualTo(0xA);
        assertThat(plane.get(1)).isEqualTo(0x5);
        assertThat(plane.get(2)).isZero();
        assertThat(plane.get(3)).isEqualTo(0xF);
    }

    @Test
    void should_read_codes_written_directly_into_the_bytes() {
        // given: the layout the CUDA kernels and the SIMD unpacking read
        NibblePlane plane = new NibblePlane(6);
        plane.bytes()[0] = (byte) 0x21;
        plane.bytes()[1] = (byte) 0x43;
        plane.bytes()[2] = (byte) 0xE5;

        // when / then
        assertThat(new int[] {plane.get(0), plane.get(1), plane.get(2), plane.get(3), plane.get(4), plane.get(5)})
                .containsExactly(1, 2, 3, 4, 5, 14);
    }

    @Test
    void should_round_trip_random_codes_over_an_odd_capacity() {
        // given
        Random random = new Random(7);
        int n = 1001;
        int[] expected = new int[n];
        NibblePlane plane = new NibblePlane(n);

        // when
        for (int i = 0; i < n; i++) {
            expected[i] = random.nextInt(16);
            plane.set(i, expected[i]);
        }

        // then
        for (int i = 0; i < n; i++) {
            assertThat(plane.get(i)).as("code %d", i).isEqualTo(expected[i]);
        }
        assertThat(plane.byteSize()).isEqualTo(501);
        assertThat(plane.capacity()).isEqualTo(1001);
    }

    @Test
    void should_leave_the_neighbouring_nibble_untouched_when_setting_one() {
        // given
        Random random = new Random(11);
        int n = 64;
        NibblePlane plane = new NibblePlane(n);
        int[] expected = new int[n];
        for (int i = 0; i < n; i++) {
            expected[i] = random.nextInt(16);
            plane.set(i, expected[i]);
        }

        for (int i = 0; i < n; i++) {
            // when: overwrite one position with every code in turn
            for (int code = 0; code < 16; code++) {
                plane.set(i, code);
                expected[i] = code;

                // then: every other position keeps its code
                for (int j = 0; j < n; j++) {
                    assertThat(plane.get(j)).as("code %d after setting %d to %d", j, i, code).isEqualTo(expected[j]);
                }
            }
        }
    }

    @Test
    void should_reject_codes_outside_0_to_15_and_positions_outside_the_capacity() {
        // given
        NibblePlane plane = new NibblePlane(5);

        // when / then
        assertThatThrownBy(() -> plane.set(0, 16)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("16");
        assertThatThrownBy(() -> plane.set(0, -1)).isInstanceOf(IllegalArgumentException.class);
        // position 5 would fit in the high nibble of byte 2, but it is past the capacity
        assertThatThrownBy(() -> plane.set(5, 1)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> plane.get(5)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> plane.get(-1)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> new NibblePlane(-1)).isInstanceOf(IllegalArgumentException.class);
    }
}
