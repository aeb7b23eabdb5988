package dev.langchain4j.model.chat.common;

import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponseMetadata;
import dev.quantspec.QuantSpecEngine;
import dev.quantspec.langchain4j.QuantSpecChatRequestParameters;
import dev.quantspec.langchain4j.QuantSpecChatResponseMetadata;
import dev.quantspec.langchain4j.QuantSpecStreamingChatModel;
import dev.quantspec.langchain4j.SuiteSettings;
import dev.quantspec.langchain4j.TestModels;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * LangChain4j's own suite for every {@link StreamingChatModel}, on qs-tiny. It lives in the suite's
 * package because three of its content-judging tests are package-private: only a subclass in this
 * package can disable them. Their contract (user exceptions routed to onError, the stream going on)
 * is checked without world knowledge in QuantSpecStreamingChatModelTest. The cancellation test runs;
 * it waits its full 30 s by design, to prove nothing is called after cancel.
 */
class QuantSpecStreamingChatModelSuiteTest extends AbstractStreamingChatModelIT {
    static final String NEEDS_KNOWLEDGE = "asserts world knowledge (Berlin / German / 'Hello World') that qs-tiny does not have";

    private QuantSpecEngine engine;

    QuantSpecEngine engine() {
        if (engine == null) {
            engine = TestModels.loadQsTiny(256);
        }
        return engine;
    }

    @AfterAll
    void closeEngine() {
        if (engine != null) {
            engine.close();
        }
    }

    @Override
    protected List<StreamingChatModel> models() {
        return List.of(QuantSpecStreamingChatModel.builder().engine(engine()).maxOutputTokens(20).build());
    }

    @Override
    protected StreamingChatModel createModelWith(ChatRequestParameters parameters) {
        // No budget of our own here: the suite's parameters must decide it (they always set one).
        return QuantSpecStreamingChatModel.builder().engine(engine()).defaultRequestParameters(parameters).build();
    }

    @Override
    public StreamingChatModel createModelWith(ChatModelListener listener) {
        return QuantSpecStreamingChatModel.builder().engine(engine()).maxOutputTokens(20).listeners(listener).build();
    }

    @Override
    protected ChatRequestParameters createIntegrationSpecificParameters(int maxOutputTokens) {
        return QuantSpecChatRequestParameters.builder().maxOutputTokens(maxOutputTokens).build();
    }

    @Override
    protected Class<? extends ChatResponseMetadata> chatResponseMetadataType(StreamingChatModel model) {
        return QuantSpecChatResponseMetadata.class;
    }

    @Override
    protected String catImageUrl() {
        return SuiteSettings.localImageUrl();
    }

    @Override
    protected String diceImageUrl() {
        return SuiteSettings.localImageUrl();
    }

    @Override
    protected boolean supportsModelNameParameter() {
        return false;
    }

    @Override
    protected boolean supportsTools() {
        return false;
    }

    @Override
    protected boolean supportsToolChoiceRequired() {
        return false;
    }

    @Override
    protected boolean supportsJsonResponseFormat() {
        return false;
    }

    @Override
    protected boolean supportsJsonResponseFormatWithSchema() {
        return false;
    }

    @Override
    protected boolean supportsJsonResponseFormatWithRawSchema() {
        return false;
    }

    @Override
    protected boolean supportsSingleImageInputAsBase64EncodedString() {
        return false;
    }

    @Override
    protected boolean supportsSingleImageInputAsPublicURL() {
        return false;
    }

    @Override
    @ParameterizedTest
    @MethodSource("models")
    @Disabled(NEEDS_KNOWLEDGE)
    protected void should_respect_user_message(StreamingChatModel model) {}

    @Override
    @ParameterizedTest
    @MethodSource("models")
    @Disabled(NEEDS_KNOWLEDGE)
    protected void should_respect_system_message(StreamingChatModel model) {}

    @Override
    @ParameterizedTest
    @MethodSource("models")
    @Disabled(NEEDS_KNOWLEDGE)
    protected void should_respect_stopSequences_in_chat_request(StreamingChatModel model) {}

    @Override
    @Test
    @Disabled(NEEDS_KNOWLEDGE)
    protected void should_respect_stopSequences_in_default_model_parameters() {}

    @Override
    @Test
    @Disabled(NEEDS_KNOWLEDGE)
    void should_propagate_user_exceptions_thrown_from_onPartialResponse() {}

    @Override
    @Test
    @Disabled(NEEDS_KNOWLEDGE)
    void should_propagate_user_exceptions_thrown_from_onCompleteResponse() {}

    @Override
    @Test
    @Disabled(NEEDS_KNOWLEDGE)
    void should_ignore_user_exceptions_thrown_from_onError() {}
}
