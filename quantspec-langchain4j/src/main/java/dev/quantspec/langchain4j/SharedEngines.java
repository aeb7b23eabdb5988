package dev.quantspec.langchain4j;

import dev.quantspec.EngineOptions;
import dev.quantspec.ModelFormatException;
import dev.quantspec.QuantSpecEngine;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Loads each (model folder, engine options) pair once per JVM and hands the same engine to every
 * model built for it, so that a {@link QuantSpecChatModel} and a {@link QuantSpecStreamingChatModel}
 * of one folder share its weights, worker threads and request queue. Reference-counted: the engine
 * closes when the last model using it closes.
 */
final class SharedEngines {
    private record Key(Path realModelDir, EngineOptions options) {}

    private static final class Entry {
        final QuantSpecEngine engine;
        int users;

        Entry(QuantSpecEngine engine) {
            this.engine = engine;
        }
    }

    // Guarded by the class lock. Loading happens under it too: two models of one folder built at
    // the same moment must not load the weights twice.
    private static final Map<Key, Entry> ENGINES = new HashMap<>();

    private SharedEngines() {}

    /** The engine for {@code modelDir} and {@code options}, loaded on first use; pair with {@link #release}. */
    static synchronized QuantSpecEngine acquire(Path modelDir, EngineOptions options) {
        Key key = new Key(realPath(modelDir), options);
        Entry entry = ENGINES.get(key);
        if (entry == null) {
            entry = new Entry(QuantSpecEngine.load(key.realModelDir(), options));
            ENGINES.put(key, entry);
        }
        entry.users++;
        return entry.engine;
    }

    static synchronized void release(QuantSpecEngine engine) {
        for (var it = ENGINES.entrySet().iterator(); it.hasNext(); ) {
            Entry entry = it.next().getValue();
            if (entry.engine == engine) {
                if (--entry.users == 0) {
                    it.remove();
                    engine.close();
                }
                return;
            }
        }
    }

    /** How many models currently use the engine (0 when it is not shared here); for tests. */
    static synchronized int users(QuantSpecEngine engine) {
        return ENGINES.values().stream().filter(e -> e.engine == engine).mapToInt(e -> e.users).sum();
    }

    private static Path realPath(Path modelDir) {
        try {
            return modelDir.toRealPath();
        } catch (IOException e) {
            throw new ModelFormatException("model folder " + modelDir.toAbsolutePath() + " cannot be read: " + e.getMessage(), e);
        }
    }
}
