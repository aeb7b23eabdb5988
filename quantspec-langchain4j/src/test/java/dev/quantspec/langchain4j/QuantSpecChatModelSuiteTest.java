package dev.quantspec.langchain4j;

import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.common.AbstractChatModelIT;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponseMetadata;
import dev.quantspec.QuantSpecEngine;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * LangChain4j's own suite for every {@link ChatModel} (langchain4j-core's tests jar), on qs-tiny.
 * The tests that judge an answer's content (a 5M-parameter model does not know Berlin) are
 * disabled here, each with its reason; the contract ones run: budgets, finish reasons, usage,
 * metadata type, parameter subclasses, and the refusal of tools, JSON output, images and model names.
 */
class QuantSpecChatModelSuiteTest extends AbstractChatModelIT {
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
    protected List<ChatModel> models() {
        return List.of(QuantSpecChatModel.builder().engine(engine()).maxOutputTokens(12).build());
    }

    @Override
    protected ChatModel createModelWith(ChatRequestParameters parameters) {
        // No budget of our own here: the suite's parameters must decide it (they always set one).
        return QuantSpecChatModel.builder().engine(engine()).defaultRequestParameters(parameters).build();
    }

    @Override
    protected ChatRequestParameters createIntegrationSpecificParameters(int maxOutputTokens) {
        return QuantSpecChatRequestParameters.builder().maxOutputTokens(maxOutputTokens).build();
    }

    @Override
    protected Class<? extends ChatResponseMetadata> chatResponseMetadataType(ChatModel model) {
        return QuantSpecChatResponseMetadata.class;
    }

    @Override
    protected String catImageUrl() {
        return SuiteSettings.localImageUrl(); // the suite only needs bytes to send; no network in CI
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
    protected void should_respect_user_message(ChatModel model) {}

    @Override
    @ParameterizedTest
    @MethodSource("models")
    @Disabled(NEEDS_KNOWLEDGE)
    protected void should_respect_system_message(ChatModel model) {}

    @Override
    @ParameterizedTest
    @MethodSource("models")
    @Disabled(NEEDS_KNOWLEDGE + "; QuantSpecChatModelTest checks stop sequences against the model's own output")
    protected void should_respect_stopSequences_in_chat_request(ChatModel model) {}

    @Override
    @org.junit.jupiter.api.Test
    @Disabled(NEEDS_KNOWLEDGE + "; QuantSpecChatModelTest checks stop sequences against the model's own output")
    protected void should_respect_stopSequences_in_default_model_parameters() {}
}
