package dev.quantspec.quarkus.runtime;

import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.quantspec.QuantSpecEngine;
import dev.quantspec.langchain4j.AbstractQuantSpecChatModel;
import dev.quantspec.langchain4j.QuantSpecChatModel;
import dev.quantspec.langchain4j.QuantSpecStreamingChatModel;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jboss.logging.Logger;

/**
 * The one loaded engine of one model configuration, shared by its blocking and its streaming chat
 * model (so the weights are in memory once and both models queue on one engine). It owns the engine:
 * the models are built with {@code .engine(engine)} and never close it; the holder closes the models
 * and then the engine when the application stops.
 */
public final class QuantSpecEngineHolder implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(QuantSpecEngineHolder.class);

    private final QuantSpecSettings settings;
    private final QuantSpecEngine engine;
    private final long loadMillis;
    private final List<AbstractQuantSpecChatModel> models = new CopyOnWriteArrayList<>();
    private final AtomicBoolean closed = new AtomicBoolean();

    private QuantSpecEngineHolder(QuantSpecSettings settings, QuantSpecEngine engine, long loadMillis) {
        this.settings = settings;
        this.engine = engine;
        this.loadMillis = loadMillis;
    }

    /** Loads the model of {@code settings} now, so that a broken model fails the application's start. */
    public static QuantSpecEngineHolder load(QuantSpecSettings settings) {
        long t0 = System.nanoTime();
        QuantSpecEngine engine = QuantSpecEngine.load(settings.modelPath(), settings.engineOptions());
        long millis = (System.nanoTime() - t0) / 1_000_000;
        QuantSpecEngineHolder holder = new QuantSpecEngineHolder(settings, engine, millis);
        LOG.infof("QuantSpec chat model '%s' ready in %d ms: %s on the %s backend, decoder %s (gamma %d, group size %d,"
                        + " 4-bit draft layers %s), context %d tokens, %d threads",
                holder.modelName(), millis, settings.modelPath().toAbsolutePath().normalize(),
                holder.backendName(), settings.decoder().name().toLowerCase(), settings.gamma(),
                settings.engineOptions().groupSize(), settings.engineOptions().draftProjections(),
                engine.contextLength(), settings.engineOptions().threads());
        return holder;
    }

    /** The blocking model; blocking calls made on the Vert.x event loop are refused. */
    public ChatModel newChatModel(List<ChatModelListener> listeners) {
        QuantSpecChatModel model = configure(QuantSpecChatModel.builder(), listeners).build();
        models.add(model);
        return new OffEventLoopChatModel(model);
    }

    /** The streaming model: callbacks run on the model's own worker threads, never on the event loop. */
    public StreamingChatModel newStreamingChatModel(List<ChatModelListener> listeners) {
        QuantSpecStreamingChatModel model = configure(QuantSpecStreamingChatModel.builder(), listeners).build();
        models.add(model);
        return model;
    }

    private <B extends AbstractQuantSpecChatModel.Builder<B>> B configure(B b, List<ChatModelListener> listeners) {
        b.engine(engine)
                .decoder(settings.decoder())
                .gamma(settings.gamma())
                .temperature(settings.temperature())
                .topP(settings.topP())
                .topK(settings.topK())
                .maxOutputTokens(settings.maxTokens())
                .seed(settings.seed())
                .listeners(listeners);
        if (!settings.stopSequences().isEmpty()) {
            b.stopSequences(settings.stopSequences());
        }
        return b;
    }

    /** The chat models built on this engine so far (unwrapped), for diagnostics and tests. */
    public List<AbstractQuantSpecChatModel> models() {
        return List.copyOf(models);
    }

    public QuantSpecSettings settings() {
        return settings;
    }

    public QuantSpecEngine engine() {
        return engine;
    }

    /** The name responses carry: the model folder's name. */
    public String modelName() {
        return String.valueOf(settings.modelPath().getFileName());
    }

    /** The backend in use ("cpu" or "cuda"), which for {@code auto} is the one the engine chose. */
    public String backendName() {
        return engine.backend().name().toLowerCase();
    }

    public long loadMillis() {
        return loadMillis;
    }

    public boolean isOpen() {
        return !closed.get();
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            models.forEach(AbstractQuantSpecChatModel::close);
            engine.close();
            LOG.debugf("QuantSpec chat model '%s' (%s) closed", modelName(), settings.configName());
        }
    }
}
