package dev.quantspec.cli;

import dev.quantspec.generate.DecoderKind;
import dev.quantspec.generate.GenerationRequest;
import dev.quantspec.generate.KvCacheKind;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** How each request is decoded: token budget, sampling, stop conditions and the decoder. */
final class GenerationFlags {
    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    @Option(names = "--max-new-tokens", paramLabel = "N", defaultValue = "128",
            description = "most tokens to generate (default: ${DEFAULT-VALUE})")
    int maxNewTokens;

    @Mixin
    SamplingFlags sampling;

    @Option(names = "--stop", paramLabel = "STR", description = "stop before this string (repeatable)")
    List<String> stop = new ArrayList<>();

    @Option(names = "--ignore-eos", description = "keep generating past end-of-sequence tokens")
    boolean ignoreEos;

    @Option(names = "--decoder", paramLabel = "autoregressive|quantspec", defaultValue = "autoregressive",
            converter = Converters.DecoderConverter.class,
            description = "one target pass per token, or QuantSpec self-speculation (default: ${DEFAULT-VALUE})")
    DecoderKind decoder;

    @Option(names = "--kv-cache", paramLabel = "full|hierarchical", converter = Converters.KvCacheConverter.class,
            description = "the autoregressive decoder's KV cache: full precision, or QuantSpec's hierarchical "
                    + "INT8 cache without drafting (default: full; QuantSpec always uses hierarchical)")
    KvCacheKind kvCache;

    @Option(names = "--gamma", paramLabel = "N", description = "QuantSpec draft tokens per round (default: 4)")
    Integer gamma;

    /** Checks every value, so a bad one fails before the model is loaded. */
    void validate() {
        OptionChecks.requirePositive(spec, maxNewTokens, "--max-new-tokens");
        sampling.validate();
        if (gamma != null) {
            OptionChecks.requireGamma(spec, gamma);
        }
        OptionChecks.require(spec, !(decoder == DecoderKind.QUANTSPEC && kvCache == KvCacheKind.FULL),
                "--kv-cache full cannot be combined with --decoder quantspec: QuantSpec always reads the hierarchical cache");
        for (String s : stop) {
            OptionChecks.require(spec, !s.isEmpty(), "--stop must not be an empty string");
        }
    }

    /** A request for {@code promptIds} with these flags and a budget of {@code maxNew} tokens. */
    GenerationRequest request(int[] promptIds, int maxNew) {
        return new GenerationRequest(promptIds, maxNew, sampling.params(), stop, ignoreEos, decoder,
                kvCache != null ? kvCache : (decoder == DecoderKind.QUANTSPEC ? KvCacheKind.HIERARCHICAL : KvCacheKind.FULL),
                gamma != null ? gamma : 0);
    }
}
