package dev.quantspec.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --model DIR}, defaulting to the embedded qs-tiny so a fresh clone runs with no arguments. */
final class ModelOption {
    @Option(names = "--model", paramLabel = "DIR",
            description = "Hugging Face model folder (config.json, *.safetensors, tokenizer.json); "
                    + "default: models/qs-tiny of this installation")
    Path model;

    /** The folder to load: --model, else models/qs-tiny under -Dquantspec.home (set by bin/quantspec), else under the working directory. */
    Path resolve() {
        if (model != null) {
            return model;
        }
        String home = System.getProperty(QuantSpecCli.HOME_PROPERTY);
        return (home != null ? Path.of(home) : Path.of("")).resolve("models").resolve("qs-tiny");
    }
}
