package dev.quantspec.langchain4j;

import static org.assertj.core.api.Assertions.assertThat;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.memory.chat.MessageWindowChatMemory;
import dev.langchain4j.service.AiServices;
import dev.quantspec.QuantSpecEngine;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** An AI service with chat memory, end to end on the model. */
class AiServicesTest {
    private static QuantSpecEngine engine;

    interface Assistant {
        String chat(String message);
    }

    @BeforeAll
    static void loadModel() {
        engine = TestModels.loadQsTiny(256);
    }

    @AfterAll
    static void closeModel() {
        engine.close();
    }

    @Test
    void should_carry_the_conversation_through_chat_memory() {
        // given
        RecordingListener listener = new RecordingListener();
        QuantSpecChatModel model = QuantSpecChatModel.builder().engine(engine).maxOutputTokens(6).listeners(listener).build();
        MessageWindowChatMemory memory = MessageWindowChatMemory.withMaxMessages(10);
        Assistant assistant = AiServices.builder(Assistant.class).chatModel(model).chatMemory(memory).build();

        // when
        String first = assistant.chat("My name is Ada.");
        String second = assistant.chat("What is my name?");

        // then: the second request carried the first exchange, and the memory holds both
        List<ChatMessage> secondRequest = listener.requests.get(1).chatRequest().messages();
        assertThat(secondRequest).containsExactly(UserMessage.from("My name is Ada."), AiMessage.from(first),
                UserMessage.from("What is my name?"));
        assertThat(memory.messages()).containsExactly(UserMessage.from("My name is Ada."), AiMessage.from(first),
                UserMessage.from("What is my name?"), AiMessage.from(second));
        // and the answer is the model's greedy answer to that whole conversation
        assertThat(second).isEqualTo(model.chat(secondRequest).aiMessage().text());
        int firstPrompt = listener.responses.get(0).chatResponse().tokenUsage().inputTokenCount();
        int secondPrompt = listener.responses.get(1).chatResponse().tokenUsage().inputTokenCount();
        assertThat(secondPrompt).isGreaterThan(firstPrompt + 6); // the first turn and its answer came along
    }
}
