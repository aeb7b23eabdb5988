package dev.quantspec.quarkus.deployment;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;

import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.quantspec.langchain4j.AbstractQuantSpecChatModel;
import dev.quantspec.langchain4j.QuantSpecChatResponseMetadata;
import dev.quantspec.quarkus.runtime.QuantSpecEngineHolder;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.quarkiverse.langchain4j.RegisterAiService;
import io.quarkus.arc.Arc;
import io.quarkus.runtime.BlockingOperationNotAllowedException;
import io.quarkus.test.QuarkusUnitTest;
import io.smallrye.mutiny.Multi;
import io.vertx.core.Vertx;
import jakarta.enterprise.context.control.ActivateRequestContext;
import jakarta.enterprise.inject.Any;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * One application on qs-tiny with the health and Micrometer extensions: the beans, an AI service
 * (blocking and streaming), the event-loop guard, the readiness check and the metrics.
 */
class QuantSpecProviderTest {

    @RegisterExtension
    static final QuarkusUnitTest APP = new QuarkusUnitTest()
            .withApplicationRoot(jar -> jar.addClasses(Assistant.class, TestModel.class))
            .overrideConfigKey("quarkus.langchain4j.quantspec.model-path", TestModel.path())
            .overrideConfigKey("quarkus.langchain4j.quantspec.backend", "cpu")
            .overrideConfigKey("quarkus.langchain4j.quantspec.threads", "2")
            .overrideConfigKey("quarkus.langchain4j.quantspec.context-length", "512")
            .overrideConfigKey("quarkus.langchain4j.quantspec.chat-model.max-tokens", "12");

    @RegisterAiService
    interface Assistant {
        String chat(String message);

        Multi<String> stream(String message);
    }

    @Inject
    ChatModel chatModel;

    @Inject
    StreamingChatModel streamingChatModel;

    @Inject
    QuantSpecEngineHolder holder;

    @Inject
    Assistant assistant;

    @Inject
    Vertx vertx;

    @Inject
    MeterRegistry meterRegistry;

    @Test
    void should_answer_through_the_injected_chat_model_with_the_configured_defaults() {
        // given the default configuration with max-tokens=12
        // when
        ChatResponse response = chatModel.chat(dev.langchain4j.model.chat.request.ChatRequest.builder()
                .messages(dev.langchain4j.data.message.UserMessage.from("Once upon a time"))
                .build());
        // then
        assertThat(response.aiMessage().text()).isNotBlank();
        assertThat(response.tokenUsage().outputTokenCount()).isBetween(1, 12);
        assertThat(response.metadata()).isInstanceOf(QuantSpecChatResponseMetadata.class);
        assertThat(((QuantSpecChatResponseMetadata) response.metadata()).decoder()).isEqualTo("quantspec");
    }

    @Test
    void should_serve_blocking_and_streaming_models_from_one_engine() {
        // given both beans used once (they are created lazily)
        chatModel.defaultRequestParameters();
        streamingChatModel.defaultRequestParameters();
        // when
        List<QuantSpecEngineHolder> holders = Arc.container().select(QuantSpecEngineHolder.class, Any.Literal.INSTANCE)
                .stream().toList();
        // then
        assertThat(holders).hasSize(1);
        assertThat(holder.models()).hasSize(2)
                .extracting(AbstractQuantSpecChatModel::engine)
                .containsOnly(holder.engine());
        assertThat(holder.backendName()).isEqualTo("cpu");
    }

    @Test
    @ActivateRequestContext // AI services are request scoped by default
    void should_answer_through_a_registered_ai_service() {
        // given / when
        String answer = assistant.chat("Tell me a story");
        // then
        assertThat(answer).isNotBlank();
    }

    @Test
    @ActivateRequestContext
    void should_stream_an_ai_service_answer_as_a_multi() {
        // given / when
        List<String> parts = assistant.stream("Tell me a story").collect().asList()
                .await().atMost(Duration.ofSeconds(60));
        // then
        assertThat(parts).isNotEmpty();
        assertThat(String.join("", parts)).isNotBlank();
    }

    @Test
    void should_refuse_blocking_inference_on_the_event_loop() throws Exception {
        // given
        CompletableFuture<Throwable> failure = new CompletableFuture<>();
        // when the blocking model is called on a Vert.x event loop thread
        vertx.runOnContext(ignored -> {
            try {
                chatModel.chat("Hello");
                failure.complete(null);
            } catch (Throwable t) {
                failure.complete(t);
            }
        });
        // then
        assertThat(failure.get(30, TimeUnit.SECONDS))
                .isInstanceOf(BlockingOperationNotAllowedException.class)
                .hasMessageContaining("event loop");
    }

    @Test
    void should_report_readiness_with_the_backend_in_use() {
        given().when().get("/q/health/ready")
                .then().statusCode(200)
                .body("status", equalTo("UP"))
                .body("checks.name", hasItem("QuantSpec models"))
                .body("checks.find { it.name == 'QuantSpec models' }.data.'<default>.backend'", equalTo("cpu"))
                .body("checks.find { it.name == 'QuantSpec models' }.data.'<default>.loaded'", equalTo(true));
    }

    @Test
    void should_record_tokens_per_second_and_acceptance_in_micrometer() {
        // given a registry that keeps what is recorded
        SimpleMeterRegistry simple = new SimpleMeterRegistry();
        ((CompositeMeterRegistry) meterRegistry).add(simple);
        // when
        chatModel.chat("Once upon a time");
        // then
        assertThat(simple.get("quantspec.decode.tokens.per.second").summary().count()).isGreaterThanOrEqualTo(1);
        assertThat(simple.get("quantspec.decode.tokens.per.second").summary().max()).isPositive();
        assertThat(simple.get("quantspec.acceptance.rate").summary().count()).isGreaterThanOrEqualTo(1);
        assertThat(simple.get("quantspec.generated.tokens").counter().count()).isPositive();
    }
}
