package dev.quantspec.quarkus.runtime;

import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.quantspec.quarkus.runtime.config.QuantSpecModelConfig;
import dev.quantspec.quarkus.runtime.config.QuantSpecRuntimeConfig;
import io.quarkiverse.langchain4j.runtime.NamedConfigUtil;
import io.quarkus.arc.Arc;
import io.quarkus.arc.InstanceHandle;
import io.quarkus.arc.SyntheticCreationalContext;
import io.quarkus.runtime.RuntimeValue;
import io.quarkus.runtime.ShutdownContext;
import io.quarkus.runtime.annotations.Recorder;
import jakarta.enterprise.inject.Instance;
import jakarta.enterprise.util.TypeLiteral;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/** Loads the engine of each used model configuration at startup and creates the chat model beans on it. */
@Recorder
public class QuantSpecRecorder {
    private static final TypeLiteral<Instance<ChatModelListener>> LISTENERS = new TypeLiteral<>() { };

    private final RuntimeValue<QuantSpecRuntimeConfig> config;

    public QuantSpecRecorder(RuntimeValue<QuantSpecRuntimeConfig> config) {
        this.config = config;
    }

    /**
     * Validates configuration {@code configName} and loads its model, at startup: a wrong key or a
     * broken model stops the application with a message naming the key or the file.
     */
    public RuntimeValue<QuantSpecEngineHolder> loadEngine(String configName, ShutdownContext shutdown) {
        QuantSpecModelConfig c = NamedConfigUtil.isDefault(configName)
                ? config.getValue().defaultConfig()
                : config.getValue().namedConfig().get(configName);
        QuantSpecEngineHolder holder = QuantSpecEngineHolder.load(QuantSpecSettings.from(configName, c));
        shutdown.addShutdownTask(holder::close);
        return new RuntimeValue<>(holder);
    }

    public Function<SyntheticCreationalContext<ChatModel>, ChatModel> chatModel(
            RuntimeValue<QuantSpecEngineHolder> holder, boolean metrics) {
        return context -> holder.getValue().newChatModel(listeners(context, holder.getValue(), metrics));
    }

    public Function<SyntheticCreationalContext<StreamingChatModel>, StreamingChatModel> streamingChatModel(
            RuntimeValue<QuantSpecEngineHolder> holder, boolean metrics) {
        return context -> holder.getValue().newStreamingChatModel(listeners(context, holder.getValue(), metrics));
    }

    /** The application's ChatModelListener beans, plus the metrics listener when Micrometer is present. */
    private static List<ChatModelListener> listeners(SyntheticCreationalContext<?> context, QuantSpecEngineHolder holder,
                                                     boolean metrics) {
        List<ChatModelListener> listeners = new ArrayList<>();
        context.getInjectedReference(LISTENERS).forEach(listeners::add);
        if (metrics) {
            listeners.add(MetricsListeners.forModel(holder));
        }
        return listeners;
    }

    /** Kept apart so that Micrometer classes are only loaded when metrics are on. */
    private static final class MetricsListeners {
        private static ChatModelListener forModel(QuantSpecEngineHolder holder) {
            io.micrometer.core.instrument.MeterRegistry registry;
            try (InstanceHandle<io.micrometer.core.instrument.MeterRegistry> h =
                         Arc.container().instance(io.micrometer.core.instrument.MeterRegistry.class)) {
                registry = h.isAvailable() ? h.get() : io.micrometer.core.instrument.Metrics.globalRegistry;
            }
            return new QuantSpecMetrics(registry, holder.modelName(), holder.settings().configName());
        }
    }
}
