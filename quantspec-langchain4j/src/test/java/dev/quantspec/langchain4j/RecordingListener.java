package dev.quantspec.langchain4j;

import dev.langchain4j.model.chat.listener.ChatModelErrorContext;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.listener.ChatModelRequestContext;
import dev.langchain4j.model.chat.listener.ChatModelResponseContext;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Records what a model tells its listeners, in order. */
final class RecordingListener implements ChatModelListener {
    final List<ChatModelRequestContext> requests = new CopyOnWriteArrayList<>();
    final List<ChatModelResponseContext> responses = new CopyOnWriteArrayList<>();
    final List<ChatModelErrorContext> errors = new CopyOnWriteArrayList<>();
    final List<String> events = new CopyOnWriteArrayList<>();

    @Override
    public void onRequest(ChatModelRequestContext context) {
        requests.add(context);
        events.add("request");
        context.attributes().put("started", "yes");
    }

    @Override
    public void onResponse(ChatModelResponseContext context) {
        responses.add(context);
        events.add("response");
    }

    @Override
    public void onError(ChatModelErrorContext context) {
        errors.add(context);
        events.add("error");
    }
}
