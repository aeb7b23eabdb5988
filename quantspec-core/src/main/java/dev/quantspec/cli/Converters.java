package dev.quantspec.cli;

import dev.quantspec.Backend;
import dev.quantspec.generate.DecoderKind;
import dev.quantspec.generate.KvCacheKind;
import dev.quantspec.model.Projection;
import java.util.Set;
import java.util.function.Function;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * Option converters that reuse the engine's own parsers, so the CLI and the library accept the
 * same spellings and give the same explanations ("unknown decoder 'x': use autoregressive or quantspec").
 */
final class Converters {
    private Converters() {}

    private static <T> T convert(String value, Function<String, T> parser) {
        try {
            return parser.apply(value);
        } catch (IllegalArgumentException e) {
            throw new TypeConversionException(e.getMessage());
        }
    }

    static final class DecoderConverter implements ITypeConverter<DecoderKind> {
        @Override
        public DecoderKind convert(String value) {
            return Converters.convert(value, DecoderKind::parse);
        }
    }

    static final class KvCacheConverter implements ITypeConverter<KvCacheKind> {
        @Override
        public KvCacheKind convert(String value) {
            return Converters.convert(value, KvCacheKind::parse);
        }
    }

    static final class BackendConverter implements ITypeConverter<Backend> {
        @Override
        public Backend convert(String value) {
            return Converters.convert(value, Backend::parse);
        }
    }

    static final class ProjectionsConverter implements ITypeConverter<Set<Projection>> {
        @Override
        public Set<Projection> convert(String value) {
            Set<Projection> set = Converters.convert(value, Projection::parseSet);
            if (set.isEmpty() && !value.trim().equalsIgnoreCase("none")) {
                throw new TypeConversionException("no projection named: use mlp, all, none, or a comma list of q,k,v,o,gate,up,down");
            }
            return set;
        }
    }
}
