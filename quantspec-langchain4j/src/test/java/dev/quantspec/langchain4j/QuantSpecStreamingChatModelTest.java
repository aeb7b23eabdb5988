package dev.quantspec.langchain4j;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.output.FinishReason;
import dev.quantspec.QuantSpecEngine;
import dev.quantspec.generate.GenerationResult;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The streaming model's contract: order, threading, errors, cancellation. */
class QuantSpecStreamingChatModelTest {
    private static QuantSpecEngine engine;

    @BeforeAll
    static void loadModel() {
        engine = TestModels.loadQsTiny(64);
    }

    @AfterAll
    static void closeModel() {
        engine.close();
    }

    /** Records every callback with the thread it came on; completes when the request ends. */
    static final class Recorder implements StreamingChatResponseHandler {
        final List<String> partials = new CopyOnWriteArrayList<>();
        final List<String> events = new CopyOnWriteArrayList<>();
        final List<Thread> threads = new CopyOnWriteArrayList<>();
        final List<Throwable> errors = new CopyOnWriteArrayList<>();
        final CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        final CompletableFuture<Throwable> failed = new CompletableFuture<>();
        BiConsumer<String, PartialResponseContext> onPartial = (text, context) -> { };

        @Override
        public void onPartialResponse(PartialResponse partial, PartialResponseContext context) {
            threads.add(Thread.currentThread());
            partials.add(partial.text());
            events.add("partial");
            onPartial.accept(partial.text(), context);
        }

        @Override
        public void onCompleteResponse(ChatResponse response) {
            threads.add(Thread.currentThread());
            events.add("complete");
            done.complete(response);
        }

        @Override
        public void onError(Throwable error) {
            threads.add(Thread.currentThread());
            events.add("error");
            errors.add(error);
            failed.complete(error);
        }
    }

    @Test
    void should_stream_partials_on_one_worker_thread_that_concatenate_to_the_blocking_answer() throws Exception {
        // given
        QuantSpecStreamingChatModel model = QuantSpecStreamingChatModel.builder().engine(engine).maxOutputTokens(10).build();
        QuantSpecChatModel blocking = QuantSpecChatModel.builder().engine(engine).maxOutputTokens(10).build();
        Recorder recorder = new Recorder();

        // when
        model.chat("Explain the KV cache", recorder);
        ChatResponse response = recorder.done.get(60, SECONDS);

        // then
        assertThat(String.join("", recorder.partials)).isEqualTo(response.aiMessage().text());
        assertThat(recorder.partials).hasSizeGreaterThan(1).allSatisfy(p -> assertThat(p).isNotEmpty());
        assertThat(recorder.events).last().isEqualTo("complete");
        assertThat(recorder.events).filteredOn("complete"::equals).hasSize(1);
        assertThat(recorder.threads).containsOnly(recorder.threads.get(0)).doesNotContain(Thread.currentThread());
        assertThat(recorder.threads.get(0).isDaemon()).isTrue();
        assertThat(response.metadata().finishReason()).isEqualTo(FinishReason.LENGTH);
        assertThat(response.metadata().tokenUsage().outputTokenCount()).isEqualTo(10);
        assertThat(response.aiMessage().text()).isEqualTo(blocking.chat("Explain the KV cache"));
        model.close();
    }

    @Test
    void should_route_exceptions_from_onPartialResponse_to_onError_without_stopping_the_stream() throws Exception {
        // given
        RecordingListener listener = new RecordingListener();
        QuantSpecStreamingChatModel model = QuantSpecStreamingChatModel.builder().engine(engine).maxOutputTokens(6)
                .listeners(listener).build();
        RuntimeException userBug = new RuntimeException("bug in user code");
        Recorder recorder = new Recorder();
        recorder.onPartial = (text, context) -> {
            throw userBug;
        };

        // when
        model.chat("hello", recorder);
        ChatResponse response = recorder.done.get(60, SECONDS);

        // then: one onError per partial, then the complete response, once
        assertThat(recorder.partials).isNotEmpty();
        assertThat(recorder.errors).hasSize(recorder.partials.size()).containsOnly(userBug);
        assertThat(recorder.events).last().isEqualTo("complete");
        assertThat(String.join("", recorder.partials)).isEqualTo(response.aiMessage().text());
        assertThat(listener.errors).hasSize(recorder.partials.size());
        assertThat(listener.responses).hasSize(1);
        model.close();
    }

    @Test
    void should_stop_decoding_promptly_when_cancelled_after_n_partials() throws Exception {
        // given: a budget of 50 tokens, cancelled at the third partial
        List<GenerationResult> generations = new CopyOnWriteArrayList<>();
        QuantSpecStreamingChatModel model = QuantSpecStreamingChatModel.builder().engine(engine).maxOutputTokens(50)
                .generationObserver(generations::add).build();
        Recorder recorder = new Recorder();
        LinkedBlockingQueue<Boolean> cancelledFlags = new LinkedBlockingQueue<>();
        recorder.onPartial = (text, context) -> {
            if (recorder.partials.size() == 3) {
                context.streamingHandle().cancel();
                cancelledFlags.add(context.streamingHandle().isCancelled());
            }
        };

        // when
        model.chat("Tell me a long story about animals", recorder);
        assertThat(cancelledFlags.poll(60, SECONDS)).isTrue();
        // a request queued behind the cancelled one finishes only once the engine is free again
        Recorder next = new Recorder();
        model.chat(ChatRequest.builder().messages(UserMessage.from("hello"))
                .parameters(ChatRequestParameters.builder().maxOutputTokens(2).build()).build(), next);
        next.done.get(60, SECONDS);

        // then: exactly 3 partials, no completion, no error; the engine stopped within a token
        assertThat(recorder.partials).hasSize(3);
        assertThat(recorder.events).containsOnly("partial");
        GenerationResult cancelled = generations.get(0);
        assertThat(cancelled.finishReason()).isEqualTo(dev.quantspec.generate.FinishReason.CANCELLED);
        assertThat(cancelled.stats().generatedTokens()).isLessThanOrEqualTo(3 + 2).isLessThan(50);
        model.close();
    }

    @Test
    void should_throw_unsupported_features_from_chat_itself_before_any_callback() {
        // given
        QuantSpecStreamingChatModel model = QuantSpecStreamingChatModel.builder().engine(engine).maxOutputTokens(4).build();
        Recorder recorder = new Recorder();
        ChatRequest withTools = ChatRequest.builder().messages(UserMessage.from("weather?"))
                .parameters(ChatRequestParameters.builder()
                        .toolSpecifications(ToolSpecification.builder().name("getWeather").build()).build())
                .build();

        // when-then
        assertThatThrownBy(() -> model.chat(withTools, recorder))
                .isExactlyInstanceOf(UnsupportedFeatureException.class)
                .hasMessageContaining("tools are not supported");
        assertThat(recorder.events).isEmpty();
        model.close();
    }

    @Test
    void should_deliver_a_too_long_prompt_to_onError_on_the_worker_thread() throws Exception {
        // given
        RecordingListener listener = new RecordingListener();
        QuantSpecStreamingChatModel model = QuantSpecStreamingChatModel.builder().engine(engine).listeners(listener).build();
        Recorder recorder = new Recorder();

        // when
        model.chat("hello ".repeat(100), recorder);
        Throwable error = recorder.failed.get(60, SECONDS);

        // then
        assertThat(error).isExactlyInstanceOf(InvalidRequestException.class).hasMessageContaining("context of 64 tokens");
        assertThat(recorder.events).containsExactly("error");
        assertThat(recorder.threads.get(0)).isNotEqualTo(Thread.currentThread());
        assertThat(listener.events).containsExactly("request", "error");
        model.close();
    }
}
