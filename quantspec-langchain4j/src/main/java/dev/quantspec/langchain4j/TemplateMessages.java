package dev.quantspec.langchain4j;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.Content;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.UserMessage;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Turns LangChain4j messages into the role/content pairs that the model's chat template renders
 * (the Hugging Face convention: "system", "user", "assistant"). Call {@link UnsupportedFeatures#check(List)}
 * first; this class only knows the text kinds of message.
 */
final class TemplateMessages {
    private TemplateMessages() {}

    static List<dev.quantspec.tokenizer.ChatMessage> of(List<ChatMessage> messages) {
        if (messages == null || messages.isEmpty()) {
            throw new IllegalArgumentException("the chat request has no messages: at least one is needed");
        }
        List<dev.quantspec.tokenizer.ChatMessage> out = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            out.add(of(m));
        }
        return out;
    }

    private static dev.quantspec.tokenizer.ChatMessage of(ChatMessage m) {
        if (m instanceof SystemMessage s) {
            return new dev.quantspec.tokenizer.ChatMessage("system", s.text());
        } else if (m instanceof UserMessage u) {
            // Several text parts form one turn; a newline keeps them from running into each other.
            String text = u.contents().stream().map(TemplateMessages::text).collect(Collectors.joining("\n"));
            return new dev.quantspec.tokenizer.ChatMessage("user", text);
        } else if (m instanceof AiMessage a) {
            return new dev.quantspec.tokenizer.ChatMessage("assistant", a.text() == null ? "" : a.text());
        }
        throw new IllegalArgumentException("message type " + m.type() + " cannot be rendered by a chat template");
    }

    private static String text(Content c) {
        if (c instanceof TextContent t) {
            return t.text();
        }
        throw new IllegalArgumentException(c.type() + " content cannot be rendered by a chat template");
    }
}
