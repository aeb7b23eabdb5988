package dev.quantspec.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.quantspec.testing.TestFiles;
import dev.quantspec.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizeCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String MODEL = TestFiles.qsTiny().toString();

    @Test
    void should_output_exactly_the_ids_of_Tokenizer_encode_for_each_line(@TempDir Path tmp) throws IOException {
        // given texts with code, special tokens, non-ASCII text and an empty string
        List<String> texts = List.of("def fib(n):\n    return n", "<|im_start|>user\nhello<|im_end|>",
                "naïve café — 東京 🚀", "", "   trailing spaces   ");
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            lines.add(JSON.writeValueAsString(Map.of("id", "t" + i, "text", texts.get(i))));
        }
        Path input = tmp.resolve("texts.jsonl");
        Files.write(input, lines);

        // when
        CliRun run = CliRun.run("tokenize", "--model", MODEL, "--input", input.toString(), "--json");

        // then
        assertThat(run.exitCode()).as(run.toString()).isZero();
        Tokenizer tokenizer = Tokenizer.load(TestFiles.qsTiny().resolve("tokenizer.json"));
        List<JsonNode> out = run.jsonLines();
        assertThat(out).hasSize(texts.size());
        for (int i = 0; i < texts.size(); i++) {
            assertThat(out.get(i).get("id").textValue()).isEqualTo("t" + i);
            assertThat(CliRun.ints(out.get(i).get("ids"))).as(texts.get(i)).containsExactly(tokenizer.encode(texts.get(i)));
        }
        assertThat(GenerateCommandTest.fieldNames(out.get(0))).containsExactly("id", "ids");
    }

    @Test
    void should_read_stdin_and_reject_a_line_without_text() {
        // when
        CliRun run = CliRun.withInput("{\"id\": 1, \"text\": \"ok\"}\n{\"id\": 2, \"txt\": \"typo\"}\n",
                "tokenize", "--model", MODEL, "--input", "-");

        // then
        assertThat(run.exitCode()).isEqualTo(1);
        assertThat(run.err()).contains("<stdin> line 2: unknown field 'txt'");
        assertThat(run.out()).isEmpty();
    }
}
