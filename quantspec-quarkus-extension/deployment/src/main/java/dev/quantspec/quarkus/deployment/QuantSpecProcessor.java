package dev.quantspec.quarkus.deployment;

import dev.quantspec.quarkus.runtime.QuantSpecEngineHolder;
import dev.quantspec.quarkus.runtime.QuantSpecReadinessCheck;
import dev.quantspec.quarkus.runtime.QuantSpecRecorder;
import io.quarkiverse.langchain4j.ModelName;
import io.quarkiverse.langchain4j.deployment.LangChain4jDotNames;
import io.quarkiverse.langchain4j.deployment.items.ChatModelProviderCandidateBuildItem;
import io.quarkiverse.langchain4j.deployment.items.SelectedChatModelProviderBuildItem;
import io.quarkiverse.langchain4j.runtime.NamedConfigUtil;
import io.quarkus.arc.deployment.SyntheticBeanBuildItem;
import io.quarkus.arc.processor.DotNames;
import io.quarkus.bootstrap.classloading.QuarkusClassLoader;
import io.quarkus.deployment.Capabilities;
import io.quarkus.deployment.Capability;
import io.quarkus.deployment.annotations.BuildProducer;
import io.quarkus.deployment.annotations.BuildStep;
import io.quarkus.deployment.annotations.ExecutionTime;
import io.quarkus.deployment.annotations.Record;
import io.quarkus.deployment.builditem.AdditionalIndexedClassesBuildItem;
import io.quarkus.deployment.builditem.FeatureBuildItem;
import io.quarkus.deployment.builditem.ShutdownContextBuildItem;
import io.quarkus.runtime.RuntimeValue;
import io.quarkus.smallrye.health.deployment.spi.HealthBuildItem;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Singleton;
import java.util.List;
import org.jboss.jandex.AnnotationInstance;
import org.jboss.jandex.ClassType;
import org.jboss.jandex.DotName;
import org.jboss.jandex.ParameterizedType;
import org.jboss.jandex.Type;

/**
 * Offers QuantSpec to quarkus-langchain4j as the chat model provider {@code quantspec}. For every
 * model configuration that quarkus-langchain4j selects for this provider (the default one, or a
 * name from {@code @RegisterAiService(modelName = ...)}), the engine is loaded once at startup and
 * three beans are made on it: the engine holder, a blocking {@code ChatModel} and a
 * {@code StreamingChatModel}; named ones carry the {@code @ModelName} qualifier.
 */
class QuantSpecProcessor {
    static final String FEATURE = "langchain4j-quantspec";
    static final String PROVIDER = "quantspec";
    private static final DotName CHAT_MODEL_LISTENER = DotName.createSimple("dev.langchain4j.model.chat.listener.ChatModelListener");

    @BuildStep
    FeatureBuildItem feature() {
        return new FeatureBuildItem(FEATURE);
    }

    @BuildStep
    void providerCandidates(QuantSpecBuildConfig config, BuildProducer<ChatModelProviderCandidateBuildItem> candidates) {
        if (config.chatModel().enabled().orElse(true)) {
            candidates.produce(new ChatModelProviderCandidateBuildItem(PROVIDER));
        }
    }

    @BuildStep
    AdditionalIndexedClassesBuildItem indexHolder() {
        // The holder is a synthetic bean's type; ArC resolves bean types through the index.
        return new AdditionalIndexedClassesBuildItem(QuantSpecEngineHolder.class.getName());
    }

    @BuildStep
    HealthBuildItem readinessCheck(QuantSpecBuildConfig config) {
        // Only takes effect when quarkus-smallrye-health is in the application.
        return new HealthBuildItem(QuantSpecReadinessCheck.class.getName(), config.healthEnabled());
    }

    @BuildStep
    @Record(ExecutionTime.RUNTIME_INIT)
    void chatModelBeans(QuantSpecRecorder recorder, QuantSpecBuildConfig config, Capabilities capabilities,
                        List<SelectedChatModelProviderBuildItem> selected, ShutdownContextBuildItem shutdown,
                        BuildProducer<SyntheticBeanBuildItem> beans) {
        // quarkus-micrometer provides the metrics capability and Micrometer's registry classes.
        boolean metrics = config.metricsEnabled() && capabilities.isPresent(Capability.METRICS)
                && QuarkusClassLoader.isClassPresentAtRuntime("io.micrometer.core.instrument.MeterRegistry");
        Type listeners = ParameterizedType.create(DotNames.INSTANCE,
                new Type[] {ClassType.create(CHAT_MODEL_LISTENER)}, null);
        for (SelectedChatModelProviderBuildItem item : selected) {
            if (!PROVIDER.equals(item.getProvider())) {
                continue;
            }
            String configName = item.getConfigName();
            RuntimeValue<QuantSpecEngineHolder> holder = recorder.loadEngine(configName, shutdown);

            var holderBean = SyntheticBeanBuildItem.configure(QuantSpecEngineHolder.class)
                    .setRuntimeInit()
                    .scope(Singleton.class)
                    .unremovable()
                    .runtimeValue(holder);
            beans.produce(qualified(holderBean, configName).done());

            var chat = SyntheticBeanBuildItem.configure(LangChain4jDotNames.CHAT_MODEL)
                    .setRuntimeInit()
                    .defaultBean()
                    .scope(ApplicationScoped.class)
                    .addInjectionPoint(listeners)
                    .createWith(recorder.chatModel(holder, metrics));
            beans.produce(qualified(chat, configName).done());

            var streaming = SyntheticBeanBuildItem.configure(LangChain4jDotNames.STREAMING_CHAT_MODEL)
                    .setRuntimeInit()
                    .defaultBean()
                    .scope(ApplicationScoped.class)
                    .addInjectionPoint(listeners)
                    .createWith(recorder.streamingChatModel(holder, metrics));
            beans.produce(qualified(streaming, configName).done());
        }
    }

    private static SyntheticBeanBuildItem.ExtendedBeanConfigurator qualified(
            SyntheticBeanBuildItem.ExtendedBeanConfigurator bean, String configName) {
        if (!NamedConfigUtil.isDefault(configName)) {
            bean.addQualifier(AnnotationInstance.builder(ModelName.class).add("value", configName).build());
        }
        return bean;
    }
}
