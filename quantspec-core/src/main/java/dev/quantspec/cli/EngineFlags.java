package dev.quantspec.cli;

import dev.quantspec.Backend;
import dev.quantspec.EngineOptions;
import dev.quantspec.model.Projection;
import java.util.Set;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** How the model is loaded: backend, threads, context, and the QuantSpec cache and draft settings. */
final class EngineFlags {
    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    @Option(names = "--threads", paramLabel = "N", description = "CPU threads (default: all cores)")
    Integer threads;

    @Option(names = "--backend", paramLabel = "auto|cpu|cuda", converter = Converters.BackendConverter.class,
            description = "where to run (default: ${DEFAULT-VALUE})", defaultValue = "auto")
    Backend backend;

    @Option(names = "--context", paramLabel = "N",
            description = "context length to allow (default: the model's max_position_embeddings)")
    Integer context;

    @Option(names = "--group-size", paramLabel = "N",
            description = "G of the hierarchical KV cache: key group and half-buffer size (default: 128)")
    Integer groupSize;

    @Option(names = "--draft-layers", paramLabel = "mlp|all|q,k,...",
            description = "projections the 4-bit draft quantizes: mlp (gate,up,down), all, none (ablation), "
                    + "or a comma list of q,k,v,o,gate,up,down (default: mlp)")
    String draftLayers;

    @Option(names = "--draft-kv", paramLabel = "int4|int8",
            description = "how the draft reads the quantized cache: int4 (upper nibbles, the algorithm) or int8 "
                    + "(the target's view; for the 4-bit-weights-only ablation) (default: int4)")
    String draftKv;

    /** The engine options these flags describe; invalid values are usage errors naming the flag. */
    EngineOptions toOptions() {
        EngineOptions o = EngineOptions.defaults().withBackend(backend);
        if (threads != null) {
            OptionChecks.requirePositive(spec, threads, "--threads");
            o = o.withThreads(threads);
        }
        if (context != null) {
            OptionChecks.requirePositive(spec, context, "--context");
            o = o.withContextLength(context);
        }
        if (groupSize != null) {
            OptionChecks.requirePositive(spec, groupSize, "--group-size");
        }
        if (draftKv != null) {
            switch (draftKv.trim().toLowerCase(java.util.Locale.ROOT)) {
                case "int4" -> o = o.withDraftKvView(dev.quantspec.kv.KvView.DRAFT);
                case "int8" -> o = o.withDraftKvView(dev.quantspec.kv.KvView.TARGET);
                default -> throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                        "Invalid value for option '--draft-kv': '" + draftKv + "': use int4 or int8");
            }
        }
        return o.withQuantSpec(o.gamma(), groupSize != null ? groupSize : o.groupSize(),
                draftLayers != null ? draftProjections(spec, draftLayers) : o.draftProjections());
    }

    /** Parses a --draft-layers value with the engine's parser; a bad one is a usage error. */
    static Set<Projection> draftProjections(CommandSpec spec, String value) {
        try {
            return new Converters.ProjectionsConverter().convert(value);
        } catch (RuntimeException e) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "Invalid value for option '--draft-layers': " + e.getMessage());
        }
    }
}
