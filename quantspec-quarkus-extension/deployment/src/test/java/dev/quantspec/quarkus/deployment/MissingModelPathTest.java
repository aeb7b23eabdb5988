package dev.quantspec.quarkus.deployment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import dev.langchain4j.model.chat.ChatModel;
import io.quarkus.test.QuarkusUnitTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Without a model path the application does not start, and the message names the key to set. */
class MissingModelPathTest {

    @RegisterExtension
    static final QuarkusUnitTest APP = new QuarkusUnitTest()
            .withApplicationRoot(jar -> jar.addClasses(StartupFailures.class))
            .assertException(t -> assertThat(StartupFailures.messages(t))
                    .contains("quarkus.langchain4j.quantspec.model-path is not set"));

    @Inject
    ChatModel chatModel;

    @Test
    void should_fail_at_startup_naming_the_model_path_key() {
        fail("the application must not start without quarkus.langchain4j.quantspec.model-path");
    }
}
