package dev.quantspec.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.quantspec.testing.TestFiles;
import dev.quantspec.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class GenerateCommandTest {
    private static final String MODEL = TestFiles.qsTiny().toString();

    @TempDir
    Path tmp;

    private Path jsonl(String... lines) throws IOException {
        Path f = tmp.resolve("input.jsonl");
        Files.writeString(f, String.join("\n", lines) + "\n");
        return f;
    }

    @Test
    void should_write_one_json_line_per_input_line_with_the_requested_lengths() throws IOException {
        // given two prompts with their own budgets, and ignore-eos so the budgets are used up
        Path input = jsonl("{\"id\": \"a\", \"prompt\": \"def fib(n):\", \"max_new_tokens\": 5}",
                "",
                "{\"id\": 7, \"prompt\": \"The package manager\", \"max_new_tokens\": 3}");

        // when
        CliRun run = CliRun.run("generate", "--model", MODEL, "--input", input.toString(), "--json", "--ignore-eos");

        // then
        assertThat(run.exitCode()).as(run.toString()).isZero();
        List<JsonNode> lines = run.jsonLines();
        assertThat(lines).hasSize(2);
        Tokenizer tokenizer = Tokenizer.load(TestFiles.qsTiny().resolve("tokenizer.json"));
        JsonNode first = lines.get(0);
        assertThat(first.get("id").textValue()).isEqualTo("a");
        assertThat(lines.get(1).get("id").intValue()).isEqualTo(7);
        assertThat(first.get("prompt_tokens").intValue()).isEqualTo(tokenizer.encode("def fib(n):").length);
        assertThat(first.get("ids").size()).isEqualTo(5);
        assertThat(lines.get(1).get("ids").size()).isEqualTo(3);
        assertThat(first.get("finish_reason").textValue()).isEqualTo("length");
        assertThat(first.get("text").textValue()).isEqualTo(tokenizer.decode(CliRun.ints(first.get("ids"))));
        assertThat(fieldNames(first)).containsExactly("id", "prompt_tokens", "ids", "text", "finish_reason", "stats");
        assertThat(fieldNames(first.get("stats"))).contains("decoder", "prompt_tokens", "generated_tokens",
                "prefill_tokens_per_s", "decode_tokens_per_s");
        assertThat(first.get("stats").get("generated_tokens").intValue()).isEqualTo(5);
    }

    @Test
    void should_generate_the_same_tokens_from_prompt_ids_as_from_the_prompt_text() throws IOException {
        // given the ids of a prompt, as the tokenizer produces them
        Tokenizer tokenizer = Tokenizer.load(TestFiles.qsTiny().resolve("tokenizer.json"));
        String ids = Arrays.stream(tokenizer.encode("import os\n")).mapToObj(Integer::toString).collect(Collectors.joining(","));
        Path input = jsonl("{\"id\": 1, \"prompt\": \"import os\\n\"}", "{\"id\": 2, \"prompt_ids\": [" + ids + "]}");

        // when
        CliRun run = CliRun.run("generate", "--model", MODEL, "--input", input.toString(), "--max-new-tokens", "6", "--ignore-eos");

        // then both lines produce the same greedy continuation
        assertThat(run.exitCode()).as(run.toString()).isZero();
        List<JsonNode> lines = run.jsonLines();
        assertThat(lines.get(1).get("prompt_tokens").intValue()).isEqualTo(tokenizer.encode("import os\n").length);
        assertThat(CliRun.ints(lines.get(1).get("ids"))).hasSize(6).containsExactly(CliRun.ints(lines.get(0).get("ids")));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
            "{\"id\": 2}                                         | needs \"prompt\" (text) or \"prompt_ids\"",
            "{\"id\": 2, \"prompt\": \"x\", \"prompt_ids\": [1]} | has both",
            "{\"id\": 2, \"prompt\": 42}                         | 'prompt' must be a string",
            "{\"id\": 2, \"prompt_ids\": [1, 999999]}            | \"prompt_ids\"[1] = 999999 is not a token id",
            "{\"id\": 2, \"prompt_ids\": []}                     | must be a non-empty array",
            "{\"id\": 2, \"prompt\": \"x\", \"max_new_tokens\": 0}   | \"max_new_tokens\" must be an integer >= 1",
            "{\"id\": 2, \"prompt\": \"x\", \"max_tokens\": 5}       | unknown field 'max_tokens'",
            "{\"id\": 2, \"prompt\": \"x\", \"max_new_tokens\": 99999} | more than the context",
            "{\"id\": 2, \"prompt\":                             | not valid JSON",
            "[1, 2]                                              | expected a JSON object",
    })
    void should_name_the_line_of_a_bad_input_line_and_generate_nothing(String badLine, String problem) throws IOException {
        // given a good first line and a bad second one
        Path input = jsonl("{\"id\": 1, \"prompt\": \"hello\"}", badLine);

        // when
        CliRun run = CliRun.run("generate", "--model", MODEL, "--input", input.toString(), "--max-new-tokens", "2");

        // then the run fails before generating anything, naming the file, the line and the problem
        assertThat(run.exitCode()).as(run.toString()).isEqualTo(1);
        assertThat(run.err()).contains("input.jsonl line 2: ").contains(problem);
        assertThat(run.out()).isEmpty();
    }

    @Test
    void should_stream_the_same_text_as_the_json_mode_and_print_a_stats_line() {
        // given
        String[] common = {"generate", "--model", MODEL, "--prompt", "def fib(n):", "--max-new-tokens", "12", "--ignore-eos"};

        // when
        CliRun human = CliRun.run(common);
        CliRun json = CliRun.run(concat(common, "--json"));

        // then stdout holds exactly the generated text (plus a final newline), stderr the summary
        assertThat(human.exitCode()).as(human.toString()).isZero();
        String text = json.jsonLines().get(0).get("text").textValue();
        assertThat(text).isNotEmpty();
        assertThat(human.out()).isEqualTo(text + System.lineSeparator());
        assertThat(human.err()).contains("12 new tokens (length)").contains("prefill").contains("decode");
    }

    @Test
    void should_decode_losslessly_with_quantspec_and_report_speculation_statistics() {
        // given greedy decoding with the hierarchical cache as the reference
        // (G = 4 and 20 tokens: the buffer flushes several times)
        String[] common = {"generate", "--model", MODEL, "--prompt", "def fib(n):", "--max-new-tokens", "20",
                "--ignore-eos", "--json", "--group-size", "4"};

        // when
        CliRun reference = CliRun.run(concat(common, "--kv-cache", "hierarchical"));
        CliRun quantSpec = CliRun.run(concat(common, "--decoder", "quantspec", "--gamma", "3", "--draft-layers", "all"));

        // then
        assertThat(quantSpec.exitCode()).as(quantSpec.toString()).isZero();
        JsonNode q = quantSpec.jsonLines().get(0);
        assertThat(CliRun.ints(q.get("ids"))).containsExactly(CliRun.ints(reference.jsonLines().get(0).get("ids")));
        assertThat(q.get("stats").get("decoder").textValue()).isEqualTo("quantspec");
        assertThat(fieldNames(q.get("stats"))).contains("drafted", "accepted", "acceptance_rate", "tokens_per_target_pass",
                "accepted_length_histogram", "draft_s", "verify_s");
        assertThat(q.get("stats").get("drafted").longValue()).isPositive();
        assertThat(q.get("stats").get("accepted_length_histogram").size()).isLessThanOrEqualTo(4);
    }

    @Test
    void should_fail_clearly_when_the_model_folder_does_not_exist() {
        // when
        CliRun run = CliRun.run("generate", "--model", tmp.resolve("no-such-model").toString(), "--prompt", "hi");

        // then
        assertThat(run.exitCode()).isEqualTo(1);
        assertThat(run.err()).startsWith("error: ").contains("no-such-model").contains("does not exist");
    }

    static List<String> fieldNames(JsonNode node) {
        List<String> names = new java.util.ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }

    static String[] concat(String[] a, String... b) {
        String[] all = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }
}
