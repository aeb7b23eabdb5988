package dev.quantspec.cli;

import dev.quantspec.generate.SamplingParams;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** How a token is chosen: greedy, or sampled with temperature, top-k, top-p and a seed. */
final class SamplingFlags {
    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    @Option(names = "--temperature", paramLabel = "T", defaultValue = "0",
            description = "sampling temperature; 0 = greedy (default: ${DEFAULT-VALUE})")
    float temperature;

    @Option(names = "--top-k", paramLabel = "K", defaultValue = "0",
            description = "sample from the K most likely tokens; 0 = no cut (default: ${DEFAULT-VALUE})")
    int topK;

    @Option(names = "--top-p", paramLabel = "P", defaultValue = "1",
            description = "nucleus sampling mass in (0, 1]; 1 = no cut (default: ${DEFAULT-VALUE})")
    float topP;

    @Option(names = "--seed", paramLabel = "S", description = "sampling seed (default: a random one)")
    Long seed;

    /** Checks every value, so a bad one fails before the model is loaded. */
    void validate() {
        OptionChecks.require(spec, temperature >= 0f && Float.isFinite(temperature),
                "--temperature must be a finite number >= 0 (0 = greedy), got " + temperature);
        OptionChecks.require(spec, topK >= 0, "--top-k must be >= 0 (0 = no cut), got " + topK);
        OptionChecks.require(spec, topP > 0f && topP <= 1f, "--top-p must be in (0, 1], got " + topP);
    }

    SamplingParams params() {
        long s = seed != null ? seed : System.nanoTime();
        return new SamplingParams(temperature, topK, topP, s);
    }

    /** "greedy", or the sampling parameters as a table cell. */
    String describe() {
        return temperature == 0f ? "greedy" : "T " + temperature + (topK > 0 ? ", top-k " + topK : "")
                + (topP < 1f ? ", top-p " + topP : "");
    }
}
