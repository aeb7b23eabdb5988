package dev.quantspec.quarkus.deployment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import dev.langchain4j.model.chat.ChatModel;
import io.quarkus.test.QuarkusUnitTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Invalid values stop the application at startup, every one reported with its key at once. */
class InvalidConfigTest {

    @RegisterExtension
    static final QuarkusUnitTest APP = new QuarkusUnitTest()
            .withApplicationRoot(jar -> jar.addClasses(StartupFailures.class, TestModel.class))
            .overrideConfigKey("quarkus.langchain4j.quantspec.model-path", TestModel.path())
            .overrideConfigKey("quarkus.langchain4j.quantspec.backend", "tpu")
            .overrideConfigKey("quarkus.langchain4j.quantspec.decoder", "beam")
            .overrideConfigKey("quarkus.langchain4j.quantspec.gamma", "0")
            .overrideConfigKey("quarkus.langchain4j.quantspec.residual-length", "100")
            .overrideConfigKey("quarkus.langchain4j.quantspec.draft-layers", "attention")
            .overrideConfigKey("quarkus.langchain4j.quantspec.chat-model.top-p", "1.5")
            .assertException(t -> assertThat(StartupFailures.messages(t))
                    .contains("quarkus.langchain4j.quantspec.backend: unknown backend 'tpu'")
                    .contains("quarkus.langchain4j.quantspec.decoder: unknown decoder 'beam'")
                    .contains("quarkus.langchain4j.quantspec.gamma must be in 1..64, got 0")
                    .contains("quarkus.langchain4j.quantspec.residual-length must be a positive multiple of group-size 128")
                    .contains("quarkus.langchain4j.quantspec.draft-layers must be mlp or all")
                    .contains("quarkus.langchain4j.quantspec.chat-model.top-p must be in (0, 1]"));

    @Inject
    ChatModel chatModel;

    @Test
    void should_fail_at_startup_naming_every_invalid_key() {
        fail("the application must not start with invalid QuantSpec settings");
    }
}
