package dev.quantspec.examples.rag;

import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.listener.ChatModelRequestContext;
import jakarta.inject.Singleton;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Sees what the AI service really sends to the QuantSpec model (the extension passes listener beans on). */
@Singleton
public class PromptRecorder implements ChatModelListener {
    final List<String> userMessages = new CopyOnWriteArrayList<>();

    @Override
    public void onRequest(ChatModelRequestContext context) {
        for (ChatMessage m : context.chatRequest().messages()) {
            if (m instanceof UserMessage u) {
                userMessages.add(u.singleText());
            }
        }
    }
}
