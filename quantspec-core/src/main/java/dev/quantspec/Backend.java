package dev.quantspec;

import java.util.Locale;

/** Where the transformer runs. */
public enum Backend {
    /** CUDA when a usable NVIDIA GPU is present, otherwise the CPU. */
    AUTO,
    /** The pure-Java backend: the reference, and the embedded default. */
    CPU,
    /** An NVIDIA GPU; fails clearly when none is usable. */
    CUDA;

    public static Backend parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown backend '" + s + "': use auto, cpu or cuda");
        }
    }
}
