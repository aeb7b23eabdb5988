package dev.quantspec.safetensors;

import dev.quantspec.ModelFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DTypeTest {
    private static final Path FILE = Path.of("/models/x/model.safetensors");

    @Test
    void should_parse_the_supported_dtypes_with_their_sizes() {
        assertThat(DType.parse("BF16", "t", FILE)).isEqualTo(DType.BF16);
        assertThat(DType.parse("F16", "t", FILE)).isEqualTo(DType.F16);
        assertThat(DType.parse("F32", "t", FILE)).isEqualTo(DType.F32);
        assertThat(DType.BF16.byteSize()).isEqualTo(2);
        assertThat(DType.F16.byteSize()).isEqualTo(2);
        assertThat(DType.F32.byteSize()).isEqualTo(4);
    }

    @ParameterizedTest
    @ValueSource(strings = {"I8", "F8_E4M3", "BOOL", "F64", "bf16"})
    void should_reject_an_unknown_dtype_naming_tensor_file_and_supported_types(String dtype) {
        assertThatThrownBy(() -> DType.parse(dtype, "model.norm.weight", FILE))
                .isInstanceOf(ModelFormatException.class)
                .hasMessage("tensor model.norm.weight in " + FILE + " has dtype " + dtype
                        + ", which is not supported: only BF16, F16, F32 tensors can be loaded");
    }
}
