package dev.quantspec.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quantspec.testing.TestFiles;
import dev.quantspec.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BenchCommandTest {
    @Test
    void should_print_a_table_row_per_decoder_and_append_a_record(@TempDir Path tmp) throws IOException {
        // given an existing benchmarks file
        Path record = tmp.resolve("BENCHMARKS.md");
        Files.writeString(record, "# Benchmarks\n");

        // when
        CliRun run = CliRun.run("bench", "--model", TestFiles.qsTiny().toString(), "--prompt-tokens", "40",
                "--new-tokens", "8", "--repeat", "2", "--warmup", "0", "--decoder", "autoregressive,quantspec",
                "--gamma", "2", "--record", "--record-file", record.toString());

        // then
        assertThat(run.exitCode()).as(run.toString()).isZero();
        String[] lines = run.out().split("\n");
        assertThat(lines).hasSize(4);
        assertThat(lines[0]).contains("model", "decoder", "prompt tokens", "new tokens", "prefill tok/s", "decode tok/s",
                "acceptance", "tokens/pass");
        assertThat(lines[2]).startsWith("| qs-tiny").contains("autoregressive/full").contains("| 40 ").contains("| 8 ");
        assertThat(lines[3]).contains("quantspec (gamma 2)").containsPattern("\\| \\d+\\.\\d% ");
        String recorded = Files.readString(record);
        assertThat(recorded).startsWith("# Benchmarks\n").contains("## ").contains(": bench qs-tiny")
                .contains("cores (nproc)").contains("command: `quantspec bench --model ")
                .contains(run.out());
    }

    @Test
    void should_build_a_prompt_of_exactly_the_requested_length_starting_with_the_text() {
        // given
        Tokenizer tokenizer = Tokenizer.load(TestFiles.qsTiny().resolve("tokenizer.json"));
        int[] text = tokenizer.encode(BenchPrompt.BUILT_IN_TEXT);

        // when
        int[] prompt = BenchPrompt.ofLength(tokenizer, BenchPrompt.BUILT_IN_TEXT, 3 * text.length + 7);

        // then the text's own encoding (BOS included) opens it, and it is repeated to the length
        assertThat(prompt).hasSize(3 * text.length + 7);
        assertThat(java.util.Arrays.copyOf(prompt, text.length - 1)).containsExactly(java.util.Arrays.copyOf(text, text.length - 1));
    }

    @Test
    void should_take_the_longest_document_of_a_jsonl_text_file(@TempDir Path tmp) throws IOException {
        // given
        Path docs = tmp.resolve("docs.jsonl");
        Files.writeString(docs, "{\"text\": \"short\"}\n{\"text\": \"the longest document here\"}\n{\"text\": \"mid size\"}\n");

        // when / then
        assertThat(BenchPrompt.text(docs)).isEqualTo("the longest document here");
        assertThat(BenchPrompt.text(null)).isEqualTo(BenchPrompt.BUILT_IN_TEXT);
    }
}
