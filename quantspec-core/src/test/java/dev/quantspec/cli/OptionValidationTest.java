package dev.quantspec.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quantspec.testing.TestFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Invalid option values are usage errors (exit 2) whose message names the option and the rule. */
class OptionValidationTest {
    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
            "generate --gamma -1                      | --gamma must be between 1 and 64",
            "generate --gamma 0                       | --gamma must be between 1 and 64",
            "generate --temperature -1                | --temperature must be a finite number >= 0",
            "generate --decoder foo                   | unknown decoder 'foo': use autoregressive or quantspec",
            "generate --kv-cache half                 | unknown KV cache 'half': use full or hierarchical",
            "generate --backend tpu                   | unknown backend 'tpu'",
            "generate --top-p 0                       | --top-p must be in (0, 1]",
            "generate --top-k -3                      | --top-k must be >= 0",
            "generate --max-new-tokens 0              | --max-new-tokens must be >= 1",
            "generate --threads 0                     | --threads must be >= 1",
            "generate --draft-layers q,x              | unknown projection 'x'",
            "generate --decoder quantspec --kv-cache full | --kv-cache full cannot be combined with --decoder quantspec",
            "generate --max-new-tokens lots           | Invalid value for option '--max-new-tokens'",
            "bench --repeat 0                         | --repeat must be >= 1",
            "bench --gamma 65                         | --gamma must be between 1 and 64",
            "bench --temperature 0.7 --top-p 1.5      | --top-p must be in (0, 1]",
            "eval --docs d.jsonl --gamma 2,-4         | --gamma must be between 1 and 64",
    })
    void should_reject_an_invalid_value_with_a_message_naming_the_option(String args, String message) {
        // given
        String[] words = args.trim().split("\\s+");
        String[] withModel = GenerateCommandTest.concat(new String[] {words[0], "--model", TestFiles.qsTiny().toString(),
                "--prompt", "hi"}, java.util.Arrays.copyOfRange(words, 1, words.length));
        if (!words[0].equals("generate")) {
            withModel = GenerateCommandTest.concat(new String[] {words[0], "--model", TestFiles.qsTiny().toString()},
                    java.util.Arrays.copyOfRange(words, 1, words.length));
        }

        // when
        CliRun run = CliRun.run(withModel);

        // then
        assertThat(run.exitCode()).as(run.toString()).isEqualTo(2);
        assertThat(run.err()).startsWith("error: ").contains(message)
                .contains("Try 'quantspec " + words[0] + " --help' for the options.").doesNotContain("Usage:");
        assertThat(run.out()).isEmpty();
    }

    @Test
    void should_require_exactly_one_of_prompt_and_input() {
        // when
        CliRun neither = CliRun.run("generate", "--model", TestFiles.qsTiny().toString());
        CliRun both = CliRun.run("generate", "--prompt", "a", "--input", "b.jsonl");

        // then
        assertThat(neither.exitCode()).isEqualTo(2);
        assertThat(neither.err()).contains("--prompt").contains("--input");
        assertThat(both.exitCode()).isEqualTo(2);
        assertThat(both.err()).contains("mutually exclusive");
    }

    @Test
    void should_list_the_commands_when_none_is_given() {
        // when
        CliRun run = CliRun.run();

        // then
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("a command is required").contains("generate").contains("eval");
    }
}
