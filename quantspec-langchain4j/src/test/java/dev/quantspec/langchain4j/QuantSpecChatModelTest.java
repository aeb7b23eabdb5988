package dev.quantspec.langchain4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import dev.quantspec.ContextLengthExceededException;
import dev.quantspec.QuantSpecEngine;
import dev.quantspec.generate.DecoderKind;
import dev.quantspec.generate.GenerationRequest;
import dev.quantspec.generate.GenerationResult;
import dev.quantspec.tokenizer.ChatMessage;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The blocking model's contract, on qs-tiny (whose answers mean nothing: behaviour is checked, not content). */
class QuantSpecChatModelTest {
    private static QuantSpecEngine engine;
    private static QuantSpecEngine smallContextEngine;

    @BeforeAll
    static void loadModel() {
        engine = TestModels.loadQsTiny();
        smallContextEngine = TestModels.loadQsTiny(32);
    }

    @AfterAll
    static void closeModel() {
        engine.close();
        smallContextEngine.close();
    }

    private static QuantSpecChatModel.Builder model() {
        return QuantSpecChatModel.builder().engine(engine).maxOutputTokens(8);
    }

    private static ChatRequest ask(String text, ChatRequestParameters parameters) {
        return ChatRequest.builder().messages(UserMessage.from(text)).parameters(parameters).build();
    }

    @Test
    void should_generate_exactly_maxOutputTokens_and_report_LENGTH() {
        // given
        QuantSpecChatModel model = model().build();

        // when
        ChatResponse response = model.chat(ask("Explain the KV cache",
                ChatRequestParameters.builder().maxOutputTokens(5).build()));

        // then
        assertThat(response.metadata().tokenUsage().outputTokenCount()).isEqualTo(5);
        assertThat(response.metadata().finishReason()).isEqualTo(FinishReason.LENGTH);
        assertThat(response.aiMessage().text()).isNotEmpty();
    }

    @Test
    void should_report_token_usage_id_model_name_and_decode_statistics() {
        // given
        QuantSpecChatModel model = model().build();
        List<ChatMessage> conversation = List.of(new ChatMessage("user", "hello"));
        int promptTokens = engine.encodeChat(conversation).length;

        // when
        ChatResponse response = model.chat(UserMessage.from("hello"));

        // then
        assertThat(response.metadata()).isExactlyInstanceOf(QuantSpecChatResponseMetadata.class);
        QuantSpecChatResponseMetadata metadata = (QuantSpecChatResponseMetadata) response.metadata();
        assertThat(metadata.id()).startsWith("quantspec-");
        assertThat(metadata.modelName()).isEqualTo("qs-tiny");
        assertThat(metadata.tokenUsage().inputTokenCount()).isEqualTo(promptTokens);
        assertThat(metadata.tokenUsage().outputTokenCount()).isEqualTo(8);
        assertThat(metadata.tokenUsage().totalTokenCount()).isEqualTo(promptTokens + 8);
        assertThat(metadata.decoder()).isEqualTo("autoregressive/full");
        assertThat(metadata.acceptanceRate()).isNull(); // nothing is drafted autoregressively
        assertThat(metadata.tokensPerTargetPass()).isEqualTo(1.0);
        assertThat(metadata.decodeStats()).containsEntry("generated_tokens", 8).containsKey("decode_tokens_per_s");
        assertThat(model.provider()).isEqualTo(ModelProvider.OTHER);
        assertThat(model.supportedCapabilities()).isEmpty();
    }

    @Test
    void should_answer_with_the_same_text_as_the_engine_given_the_same_greedy_prompt() {
        // given: a multi-turn conversation with a system message
        QuantSpecChatModel model = model().build();
        List<dev.langchain4j.data.message.ChatMessage> messages = List.of(
                SystemMessage.from("You write Java."),
                UserMessage.from("Name a collection."),
                AiMessage.from("ArrayList"),
                UserMessage.from("Another one?"));
        String rendered = "<|begin_of_text|><|im_start|>system\nYou write Java.<|im_end|>\n"
                + "<|im_start|>user\nName a collection.<|im_end|>\n"
                + "<|im_start|>assistant\nArrayList<|im_end|>\n"
                + "<|im_start|>user\nAnother one?<|im_end|>\n"
                + "<|im_start|>assistant\n";
        int[] expectedPrompt = engine.tokenizer().encode(rendered, false);

        // when
        ChatResponse response = model.chat(messages);

        // then: the prompt is the chat template's rendering, turn by turn, roles included
        assertThat(engine.encodeChat(TemplateMessages.of(messages))).containsExactly(expectedPrompt);
        assertThat(response.metadata().tokenUsage().inputTokenCount()).isEqualTo(expectedPrompt.length);
        GenerationResult direct = engine.generate(GenerationRequest.greedy(expectedPrompt, 8));
        assertThat(response.aiMessage().text()).isEqualTo(direct.text());
    }

    @Test
    void should_end_the_text_before_a_stop_sequence_and_report_STOP() {
        // given: the greedy answer, and a piece from its middle as the stop sequence
        QuantSpecChatModel model = model().maxOutputTokens(16).build();
        String full = model.chat(UserMessage.from("Explain the KV cache")).aiMessage().text();
        String stop = full.substring(full.length() / 2, full.length() / 2 + 3);
        assertThat(stop).isNotBlank();
        String expected = full.substring(0, full.indexOf(stop));

        // when
        ChatResponse response = model.chat(ask("Explain the KV cache",
                ChatRequestParameters.builder().stopSequences(List.of(stop)).build()));

        // then
        assertThat(response.aiMessage().text()).isEqualTo(expected).doesNotContain(stop);
        assertThat(response.metadata().finishReason()).isEqualTo(FinishReason.STOP);
    }

    @Test
    void should_reproduce_a_sampled_answer_given_the_same_seed() {
        // given
        QuantSpecChatModel model = model().temperature(1.0).build();
        ChatRequest seeded = ask("Tell me a story", QuantSpecChatRequestParameters.builder().seed(42L).build());

        // when
        String first = model.chat(seeded).aiMessage().text();
        String second = model.chat(seeded).aiMessage().text();
        Set<String> otherSeeds = new HashSet<>();
        for (long seed = 1; seed <= 4; seed++) {
            otherSeeds.add(model.chat(ask("Tell me a story",
                    QuantSpecChatRequestParameters.builder().seed(seed).build())).aiMessage().text());
        }

        // then: same seed, same text; the seed does steer the sampler
        assertThat(second).isEqualTo(first);
        assertThat(otherSeeds).hasSizeGreaterThan(1);
    }

    @Test
    void should_honour_topK_and_topP_when_sampling() {
        // given: greedy, and hot sampling cut to the single most likely token in two ways
        QuantSpecChatModel model = model().build();
        String greedy = model.chat(UserMessage.from("Tell me a story")).aiMessage().text();

        // when
        String topK1 = model.chat(ask("Tell me a story", QuantSpecChatRequestParameters.builder()
                .temperature(1.5).topK(1).seed(7L).build())).aiMessage().text();
        String tinyTopP = model.chat(ask("Tell me a story", QuantSpecChatRequestParameters.builder()
                .temperature(1.5).topP(1e-6).seed(7L).build())).aiMessage().text();

        // then
        assertThat(topK1).isEqualTo(greedy);
        assertThat(tinyTopP).isEqualTo(greedy);
    }

    @Test
    void should_use_builder_defaults_and_let_a_request_override_them() {
        // given
        QuantSpecChatModel model = model().maxOutputTokens(3).stopSequences(List.of("zzzz")).seed(5L).build();

        // when
        ChatResponse byDefault = model.chat(UserMessage.from("hello"));
        ChatResponse overridden = model.chat(ask("hello", ChatRequestParameters.builder().maxOutputTokens(6).build()));

        // then
        assertThat(model.defaultRequestParameters().maxOutputTokens()).isEqualTo(3);
        assertThat(model.defaultRequestParameters().stopSequences()).containsExactly("zzzz");
        assertThat(model.defaultRequestParameters().seed()).isEqualTo(5L);
        assertThat(model.defaultRequestParameters().modelName()).isEqualTo("qs-tiny");
        assertThat(byDefault.metadata().tokenUsage().outputTokenCount()).isEqualTo(3);
        assertThat(overridden.metadata().tokenUsage().outputTokenCount()).isEqualTo(6);
    }

    @Test
    void should_decode_with_QuantSpec_through_request_parameters_and_report_acceptance() {
        // given
        QuantSpecChatModel model = model().maxOutputTokens(12).build();
        String autoregressive = model.chat(UserMessage.from("Tell me a long story about animals")).aiMessage().text();

        // when
        ChatResponse response = model.chat(ask("Tell me a long story about animals",
                QuantSpecChatRequestParameters.builder().decoder(DecoderKind.QUANTSPEC).gamma(3).build()));

        // then: greedy speculative decoding gives the target's own answer, with its statistics
        QuantSpecChatResponseMetadata metadata = (QuantSpecChatResponseMetadata) response.metadata();
        assertThat(metadata.decoder()).isEqualTo("quantspec");
        assertThat(metadata.acceptanceRate()).isBetween(0.0, 1.0);
        assertThat(metadata.tokensPerTargetPass()).isBetween(1.0, 4.0);
        assertThat(response.aiMessage().text()).isEqualTo(autoregressive);
    }

    @Test
    void should_report_LENGTH_when_the_context_runs_out_before_maxOutputTokens() {
        // given: a 32-token context and a 13-token prompt
        QuantSpecChatModel model = QuantSpecChatModel.builder().engine(smallContextEngine).build();
        int room = 32 - smallContextEngine.encodeChat(List.of(new ChatMessage("user", "hello"))).length;

        // when
        ChatResponse unbounded = model.chat(UserMessage.from("hello"));
        ChatResponse tooMany = model.chat(ask("hello", ChatRequestParameters.builder().maxOutputTokens(500).build()));

        // then
        assertThat(unbounded.metadata().tokenUsage().outputTokenCount()).isEqualTo(room);
        assertThat(unbounded.metadata().finishReason()).isEqualTo(FinishReason.LENGTH);
        assertThat(tooMany.metadata().tokenUsage().outputTokenCount()).isEqualTo(room);
        assertThat(tooMany.metadata().finishReason()).isEqualTo(FinishReason.LENGTH);
    }

    @Test
    void should_fail_clearly_when_the_prompt_alone_exceeds_the_context() {
        // given
        QuantSpecChatModel model = QuantSpecChatModel.builder().engine(smallContextEngine).build();

        // when-then
        assertThatThrownBy(() -> model.chat("hello ".repeat(40)))
                .isExactlyInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("no room in the model's context of 32 tokens")
                .hasCauseInstanceOf(ContextLengthExceededException.class);
    }

    @Test
    void should_tell_listeners_about_request_and_response_in_order() {
        // given
        RecordingListener listener = new RecordingListener();
        QuantSpecChatModel model = model().listeners(listener).build();

        // when
        ChatResponse response = model.chat(UserMessage.from("hello"));

        // then
        assertThat(listener.events).containsExactly("request", "response");
        ChatRequest seen = listener.requests.get(0).chatRequest();
        assertThat(seen.messages()).containsExactly(UserMessage.from("hello"));
        assertThat(seen.parameters().maxOutputTokens()).isEqualTo(8);
        assertThat(seen.parameters().modelName()).isEqualTo("qs-tiny");
        assertThat(listener.requests.get(0).modelProvider()).isEqualTo(ModelProvider.OTHER);
        assertThat(listener.responses.get(0).chatResponse()).isSameAs(response);
        assertThat(listener.responses.get(0).attributes()).containsEntry("started", "yes");
    }

    @Test
    void should_tell_listeners_about_errors() {
        // given
        RecordingListener listener = new RecordingListener();
        QuantSpecChatModel model = QuantSpecChatModel.builder().engine(smallContextEngine).listeners(listener).build();

        // when
        Throwable thrown = org.assertj.core.api.Assertions.catchThrowable(() -> model.chat("hello ".repeat(40)));

        // then
        assertThat(listener.events).containsExactly("request", "error");
        assertThat(listener.errors.get(0).error()).isSameAs(thrown);
        assertThat(listener.errors.get(0).attributes()).containsEntry("started", "yes");
    }

    static Stream<Arguments> unsupportedRequests() {
        ToolSpecification tool = ToolSpecification.builder().name("getWeather").build();
        return Stream.of(
                Arguments.of(ask("hi", ChatRequestParameters.builder().toolSpecifications(tool).build()), "tools are not supported"),
                Arguments.of(ask("hi", ChatRequestParameters.builder().toolSpecifications(tool).toolChoice(ToolChoice.REQUIRED).build()),
                        "ToolChoice.REQUIRED is not supported"),
                Arguments.of(ask("hi", ChatRequestParameters.builder().responseFormat(ResponseFormat.JSON).build()),
                        "JSON response format is not supported"),
                Arguments.of(ask("hi", ChatRequestParameters.builder().frequencyPenalty(0.5).build()), "frequencyPenalty is not supported"),
                Arguments.of(ask("hi", ChatRequestParameters.builder().presencePenalty(0.5).build()), "presencePenalty is not supported"),
                Arguments.of(ask("hi", ChatRequestParameters.builder().modelName("gpt-4o").build()), "modelName 'gpt-4o' is not supported"),
                Arguments.of(ChatRequest.builder().messages(UserMessage.from(TextContent.from("what is this?"),
                        ImageContent.from("https://example.com/cat.png"))).build(), "image inputs are not supported"),
                Arguments.of(ChatRequest.builder().messages(UserMessage.from("weather?"),
                        ToolExecutionResultMessage.from("1", "getWeather", "sunny")).build(), "tool execution results are not supported"));
    }

    @ParameterizedTest
    @MethodSource("unsupportedRequests")
    void should_refuse_unsupported_features_before_any_work_starts(ChatRequest request, String message) {
        // given
        List<GenerationResult> generations = new CopyOnWriteArrayList<>();
        QuantSpecChatModel model = model().generationObserver(generations::add).build();

        // when-then
        assertThatThrownBy(() -> model.chat(request))
                .isExactlyInstanceOf(UnsupportedFeatureException.class)
                .hasMessageContaining(message);
        assertThat(generations).isEmpty();
    }

    @Test
    void should_refuse_unsupported_default_parameters_when_building() {
        // given
        var builder = QuantSpecChatModel.builder().engine(engine)
                .defaultRequestParameters(ChatRequestParameters.builder().responseFormat(ResponseFormat.JSON).build());

        // when-then
        assertThatThrownBy(builder::build)
                .isExactlyInstanceOf(UnsupportedFeatureException.class)
                .hasMessageContaining("JSON response format is not supported");
    }

    @Test
    void should_accept_neutral_penalties_and_text_response_format() {
        // given: what many configurations send by default
        QuantSpecChatModel model = model().build();
        ChatRequestParameters neutral = ChatRequestParameters.builder().frequencyPenalty(0.0).presencePenalty(0.0)
                .responseFormat(ResponseFormat.TEXT).maxOutputTokens(2).build();

        // when
        ChatResponse response = model.chat(ask("hello", neutral));

        // then
        assertThat(response.metadata().tokenUsage().outputTokenCount()).isEqualTo(2);
    }

    @Test
    void should_load_the_model_once_for_a_blocking_and_a_streaming_model_of_one_folder() {
        // given
        QuantSpecChatModel blocking = QuantSpecChatModel.builder().modelPath(TestModels.qsTiny())
                .engineOptions(TestModels.cpuOptions(64)).build();
        QuantSpecStreamingChatModel streaming = QuantSpecStreamingChatModel.builder().modelPath(TestModels.qsTiny())
                .engineOptions(TestModels.cpuOptions(64)).build();
        QuantSpecEngine shared = blocking.engine();

        // when-then
        assertThat(streaming.engine()).isSameAs(shared);
        assertThat(SharedEngines.users(shared)).isEqualTo(2);
        blocking.close();
        blocking.close(); // idempotent
        assertThat(SharedEngines.users(shared)).isEqualTo(1);
        assertThat(streaming.engine().contextLength()).isEqualTo(64);
        streaming.close();
        assertThat(SharedEngines.users(shared)).isZero();
        assertThatThrownBy(() -> blocking.chat("hello")).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    }

    @Test
    void should_require_a_model_folder_or_an_engine() {
        assertThatThrownBy(() -> QuantSpecChatModel.builder().build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("modelPath");
    }
}
