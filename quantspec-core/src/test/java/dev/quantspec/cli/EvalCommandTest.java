package dev.quantspec.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.quantspec.testing.TestFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EvalCommandTest {
    /** The first held-out document, alone in a file (the reference must exist: the test fails otherwise). */
    private static Path oneDoc(Path tmp) throws IOException {
        String first = Files.readAllLines(TestFiles.reference("heldout-docs.jsonl")).get(0);
        Path docs = tmp.resolve("docs.jsonl");
        Files.writeString(docs, "{\"text\": \"too short\"}\n" + first + "\n");
        return docs;
    }

    @Test
    void should_report_acceptance_and_losslessness_per_gamma(@TempDir Path tmp) throws IOException {
        // when
        CliRun run = CliRun.run("eval", "--model", TestFiles.qsTiny().toString(), "--docs", oneDoc(tmp).toString(),
                "--docs-limit", "1", "--min-chars", "100", "--prompt-tokens", "48", "--new-tokens", "20",
                "--gamma", "1,3", "--group-size", "8", "--perplexity", "--perplexity-tokens", "40");

        // then one row per gamma; greedy QuantSpec matches greedy autoregressive decoding
        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out()).contains("qs-tiny: 1 documents").contains("prompt 48 tokens, 20 new tokens");
        assertThat(run.out()).containsPattern("\\| 1 +\\| 1 +\\| \\d+ +\\| \\d+ +\\| [\\d.]+% +\\| 1/1 ")
                .containsPattern("\\| 3 +\\| 1 +\\| \\d+ +\\| \\d+ +\\| [\\d.]+% +\\| 1/1 ");
        assertThat(run.out()).containsPattern("perplexity over 39 predicted tokens of 1 documents: fp [\\d.]+, "
                + "int8 [\\d.]+ \\([+-][\\d.]+%\\), int4 [\\d.]+ \\([+-][\\d.]+%\\)");
        assertThat(run.err()).doesNotContain("NOT LOSSLESS");
    }

    @Test
    void should_write_the_report_as_json(@TempDir Path tmp) throws IOException {
        // when
        CliRun run = CliRun.run("eval", "--model", TestFiles.qsTiny().toString(), "--docs", oneDoc(tmp).toString(),
                "--docs-limit", "1", "--min-chars", "100", "--prompt-tokens", "32", "--new-tokens", "12",
                "--gamma", "2", "--json", "--perplexity", "--perplexity-tokens", "24", "--group-size", "4");

        // then the short first document was skipped: the held-out one is on line 2
        assertThat(run.exitCode()).as(run.toString()).isZero();
        JsonNode report = run.jsonLines().get(0);
        assertThat(report.get("doc_lines").get(0).intValue()).isEqualTo(2);
        JsonNode row = report.get("results").get(0);
        assertThat(row.get("gamma").intValue()).isEqualTo(2);
        assertThat(row.get("lossless").intValue()).isEqualTo(1);
        assertThat(row.get("drafted").longValue()).isGreaterThanOrEqualTo(row.get("accepted").longValue());
        assertThat(row.get("acceptance_rate").doubleValue()).isBetween(0.0, 1.0);
        assertThat(row.get("tokens_per_target_pass").doubleValue()).isBetween(1.0, 3.0);
        JsonNode ppl = report.get("perplexity");
        assertThat(ppl.get("predicted_tokens").intValue()).isEqualTo(23);
        // the 8-bit target view stays close to full precision; every perplexity is a real one (> 1)
        assertThat(ppl.get("fp").doubleValue()).isGreaterThan(1.0);
        assertThat(ppl.get("int8").doubleValue()).isCloseTo(ppl.get("fp").doubleValue(), org.assertj.core.data.Percentage.withPercentage(2));
        assertThat(ppl.get("int4").doubleValue()).isGreaterThan(1.0);
    }

    @Test
    void should_fail_clearly_when_no_document_is_long_enough(@TempDir Path tmp) throws IOException {
        // when
        CliRun run = CliRun.run("eval", "--model", TestFiles.qsTiny().toString(), "--docs", oneDoc(tmp).toString(),
                "--min-chars", "100000000");

        // then
        assertThat(run.exitCode()).isEqualTo(1);
        assertThat(run.err()).contains("no document in").contains("more than 100000000 characters");
    }
}
