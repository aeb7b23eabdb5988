package dev.quantspec.cli;

import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/** Option-value checks that fail as usage errors (exit code 2) naming the option. */
final class OptionChecks {
    private OptionChecks() {}

    static void require(CommandSpec spec, boolean ok, String message) {
        if (!ok) {
            CommandLine cl = spec.commandLine();
            throw new ParameterException(cl, message);
        }
    }

    static void requirePositive(CommandSpec spec, int value, String option) {
        require(spec, value >= 1, option + " must be >= 1, got " + value);
    }

    static void requireGamma(CommandSpec spec, int gamma) {
        // 64 is the engine's bound (EngineOptions); beyond it every round would be wasted drafting anyway.
        require(spec, gamma >= 1 && gamma <= 64, "--gamma must be between 1 and 64 (draft tokens per round), got " + gamma);
    }
}
