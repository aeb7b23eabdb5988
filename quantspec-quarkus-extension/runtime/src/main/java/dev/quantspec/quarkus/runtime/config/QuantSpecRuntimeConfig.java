package dev.quantspec.quarkus.runtime.config;

import io.quarkus.runtime.annotations.ConfigDocMapKey;
import io.quarkus.runtime.annotations.ConfigDocSection;
import io.quarkus.runtime.annotations.ConfigPhase;
import io.quarkus.runtime.annotations.ConfigRoot;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefaults;
import io.smallrye.config.WithParentName;
import java.util.Map;

/**
 * Run-time configuration of the QuantSpec chat model provider. The default model is configured
 * directly under {@code quarkus.langchain4j.quantspec}; a named model (selected with
 * {@code @RegisterAiService(modelName = "NAME")} and {@code quarkus.langchain4j.NAME.chat-model.provider=quantspec})
 * under {@code quarkus.langchain4j.quantspec.NAME}.
 */
@ConfigRoot(phase = ConfigPhase.RUN_TIME)
@ConfigMapping(prefix = "quarkus.langchain4j.quantspec")
public interface QuantSpecRuntimeConfig {

    /**
     * The default model.
     */
    @WithParentName
    QuantSpecModelConfig defaultConfig();

    /**
     * Named models.
     */
    @ConfigDocSection
    @ConfigDocMapKey("model-name")
    @WithParentName
    @WithDefaults
    Map<String, QuantSpecModelConfig> namedConfig();
}
