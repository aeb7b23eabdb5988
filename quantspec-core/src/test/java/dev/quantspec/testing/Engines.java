package dev.quantspec.testing;

import dev.quantspec.Backend;
import dev.quantspec.EngineOptions;
import dev.quantspec.QuantSpecEngine;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Loaded engines shared by the tests of one JVM: loading maps the weights once, and the CPU worker
 * threads are reused. Engines are never closed: the JVM exit releases them.
 */
public final class Engines {
    private static final Map<Path, QuantSpecEngine> LOADED = new ConcurrentHashMap<>();

    private Engines() {}

    public static QuantSpecEngine qsTiny() {
        return get(TestFiles.qsTiny());
    }

    public static QuantSpecEngine qsSmall() {
        return get(TestFiles.qsSmall());
    }

    /**
     * The default CPU engine for a model folder (G = 128, γ = 4, MLP-only draft) with a 4096-token
     * context: the Hugging Face reference runs qs-tiny (trained with 2048 positions) on 3000-token prompts.
     */
    public static QuantSpecEngine get(Path dir) {
        return LOADED.computeIfAbsent(dir, d -> QuantSpecEngine.load(d,
                EngineOptions.defaults().withBackend(Backend.CPU).withContextLength(4096)));
    }
}
