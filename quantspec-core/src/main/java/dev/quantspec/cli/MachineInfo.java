package dev.quantspec.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** What a benchmark ran on: cores, CPU model, Java; recorded beside every figure so figures can be compared. */
record MachineInfo(int cores, String cpuModel, String java) {
    static MachineInfo current() {
        return new MachineInfo(Runtime.getRuntime().availableProcessors(), cpuModel(Path.of("/proc/cpuinfo")),
                System.getProperty("java.runtime.name", "Java") + " " + System.getProperty("java.runtime.version",
                        System.getProperty("java.version")) + " (" + System.getProperty("java.vm.name", "?") + ")");
    }

    /** The first "model name" of a Linux /proc/cpuinfo, or "unknown" elsewhere. */
    static String cpuModel(Path cpuinfo) {
        try {
            for (String line : Files.readAllLines(cpuinfo)) {
                if (line.startsWith("model name")) {
                    int colon = line.indexOf(':');
                    if (colon >= 0) {
                        return line.substring(colon + 1).strip();
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            // Not Linux, or not readable: the record says so instead of failing the benchmark.
        }
        return "unknown";
    }

    String describe() {
        return cores + " cores (nproc), " + cpuModel + ", " + java;
    }
}
