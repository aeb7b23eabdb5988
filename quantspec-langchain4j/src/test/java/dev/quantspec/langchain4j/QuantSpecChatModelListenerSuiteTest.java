package dev.quantspec.langchain4j;

import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.common.AbstractChatModelListenerIT;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.quantspec.QuantSpecEngine;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * LangChain4j's listener suite for {@link ChatModel}. The failing model has an 8-token context, so
 * the suite's prompt alone overflows it: an {@link InvalidRequestException}.
 */
class QuantSpecChatModelListenerSuiteTest extends AbstractChatModelListenerIT {
    private static QuantSpecEngine engine;
    private static QuantSpecEngine tinyContextEngine;

    @BeforeAll
    static void loadModel() {
        engine = TestModels.loadQsTiny(128);
        tinyContextEngine = TestModels.loadQsTiny(8);
    }

    @AfterAll
    static void closeModel() {
        engine.close();
        tinyContextEngine.close();
    }

    @Override
    protected ChatModel createModel(ChatModelListener listener) {
        return QuantSpecChatModel.builder().engine(engine).modelName(modelName()).temperature(temperature())
                .topP(topP()).maxOutputTokens(maxTokens()).listeners(listener).build();
    }

    @Override
    protected String modelName() {
        return "qs-tiny";
    }

    @Override
    protected ChatModel createFailingModel(ChatModelListener listener) {
        return QuantSpecChatModel.builder().engine(tinyContextEngine).listeners(listener).build();
    }

    @Override
    protected Class<? extends Exception> expectedExceptionClass() {
        return InvalidRequestException.class;
    }

    @Override
    protected boolean supportsTools() {
        return false;
    }
}
