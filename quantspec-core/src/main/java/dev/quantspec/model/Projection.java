package dev.quantspec.model;

import dev.quantspec.tensor.WeightMatrix;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/** The linear projections of a Llama layer; the draft model quantizes a configurable subset. */
public enum Projection {
    Q, K, V, O, GATE, UP, DOWN;

    /** gate/up/down: what the QuantSpec authors' code quantizes for the draft. */
    public static final Set<Projection> MLP = EnumSet.of(GATE, UP, DOWN);
    public static final Set<Projection> ALL = EnumSet.allOf(Projection.class);

    /** Parses "mlp", "all", "none" (ablation: the draft keeps the original weights), or a comma list such as "q,k,v,o,gate". */
    public static Set<Projection> parseSet(String spec) {
        String s = spec.trim().toLowerCase(Locale.ROOT);
        if (s.equals("none")) {
            return EnumSet.noneOf(Projection.class);
        }
        if (s.equals("mlp")) {
            return EnumSet.copyOf(MLP);
        }
        if (s.equals("all")) {
            return EnumSet.copyOf(ALL);
        }
        EnumSet<Projection> out = EnumSet.noneOf(Projection.class);
        for (String part : s.split(",")) {
            try {
                out.add(valueOf(part.trim().toUpperCase(Locale.ROOT)));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown projection '" + part.trim()
                        + "': use mlp, all, none, or a comma list of q,k,v,o,gate,up,down");
            }
        }
        return out;
    }

    /** Replaces one matrix of a layer. */
    @FunctionalInterface
    public interface Mapper {
        WeightMatrix map(Projection which, WeightMatrix original);
    }
}
