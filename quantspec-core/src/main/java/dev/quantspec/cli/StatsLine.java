package dev.quantspec.cli;

import dev.quantspec.generate.DecodeStats;
import dev.quantspec.generate.GenerationResult;
import java.util.Locale;

/** The one-line human summary of a generation, printed to stderr after the streamed text. */
final class StatsLine {
    private StatsLine() {}

    static String of(GenerationResult r) {
        DecodeStats s = r.stats();
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "[%s] %d prompt tokens, %d new tokens (%s); prefill %s tok/s, decode %s tok/s",
                s.decoder(), s.promptTokens(), s.generatedTokens(), r.finishReason().jsonName(),
                number(s.prefillTokensPerSecond(), 1), number(s.decodeTokensPerSecond(), 1)));
        if (s.drafted() > 0) {
            b.append(String.format(Locale.ROOT, "; acceptance %s%% (%d/%d), %s tokens per target pass",
                    number(100 * s.acceptanceRate(), 1), s.accepted(), s.drafted(), number(s.tokensPerTargetPass(), 2)));
        }
        return b.toString();
    }

    /** A number with {@code decimals} places, or "-" when it is undefined (nothing was measured). */
    static String number(double v, int decimals) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%." + decimals + "f", v) : "-";
    }
}
