package dev.quantspec.quarkus.deployment;

import io.quarkus.runtime.annotations.ConfigPhase;
import io.quarkus.runtime.annotations.ConfigRoot;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.util.Optional;

/** Build-time switches of the QuantSpec chat model provider. */
@ConfigRoot(phase = ConfigPhase.BUILD_TIME)
@ConfigMapping(prefix = "quarkus.langchain4j.quantspec")
public interface QuantSpecBuildConfig {

    /**
     * Chat model settings fixed at build time.
     */
    ChatModelBuildConfig chatModel();

    /**
     * Whether a readiness health check reports the QuantSpec models (when quarkus-smallrye-health is present).
     */
    @WithDefault("true")
    boolean healthEnabled();

    /**
     * Whether tokens/s, acceptance-rate and token-count metrics are published (when quarkus-micrometer is present).
     */
    @WithDefault("true")
    boolean metricsEnabled();

    /** Chat model settings fixed at build time. */
    interface ChatModelBuildConfig {
        /**
         * Whether QuantSpec is offered as a chat model provider ({@code quantspec}). Default: true.
         */
        Optional<Boolean> enabled();
    }
}
