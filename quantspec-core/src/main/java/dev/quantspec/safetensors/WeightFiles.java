package dev.quantspec.safetensors;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.quantspec.ModelFormatException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The weights of a Hugging Face model folder: either one {@code model.safetensors} or the shards
 * listed by {@code model.safetensors.index.json} (its {@code weight_map} maps each tensor name to
 * a shard file). Tensors are looked up by name across all shards; closing unmaps every shard.
 */
public final class WeightFiles implements AutoCloseable {
    static final String SINGLE_FILE = "model.safetensors";
    static final String INDEX_FILE = "model.safetensors.index.json";

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path modelDir;
    /** Every opened file; one for a single-file model, one per shard otherwise. */
    private final List<SafetensorsFile> files;
    /** Tensors by name, in the order the index or header lists them. */
    private final Map<String, TensorData> tensors;

    private WeightFiles(Path modelDir, List<SafetensorsFile> files, Map<String, TensorData> tensors) {
        this.modelDir = modelDir;
        this.files = files;
        this.tensors = tensors;
    }

    /**
     * Opens the weights in {@code modelDir}. A single {@code model.safetensors} wins over an
     * index when both are present, which is the order the Hugging Face loader checks them in.
     *
     * @throws ModelFormatException when the folder has no weights, a shard is missing, or the index
     *                              names a tensor its shard does not hold
     */
    public static WeightFiles open(Path modelDir) {
        return open(modelDir, SafetensorsFile.DEFAULT_MAX_CHUNK_BYTES);
    }

    /** As {@link #open(Path)}, with the chunk-size knob of {@link SafetensorsFile#open(Path, long)}. */
    static WeightFiles open(Path modelDir, long maxChunkBytes) {
        if (!Files.isDirectory(modelDir)) {
            throw new ModelFormatException("model folder " + modelDir + " does not exist or is not a folder");
        }
        Path single = modelDir.resolve(SINGLE_FILE);
        if (Files.exists(single)) {
            SafetensorsFile file = SafetensorsFile.open(single, maxChunkBytes);
            Map<String, TensorData> tensors = new LinkedHashMap<>();
            for (String name : file.names()) {
                tensors.put(name, file.tensor(name));
            }
            return new WeightFiles(modelDir, List.of(file), tensors);
        }
        Path index = modelDir.resolve(INDEX_FILE);
        if (Files.exists(index)) {
            return openSharded(modelDir, index, maxChunkBytes);
        }
        throw new ModelFormatException("no " + SINGLE_FILE + " or " + INDEX_FILE + " in " + modelDir
                + " (found: " + listFolder(modelDir) + ")");
    }

    private static WeightFiles openSharded(Path modelDir, Path index, long maxChunkBytes) {
        Map<String, String> weightMap = readWeightMap(index);
        // Check that every shard exists before mapping any, so the error lists the whole gap at once.
        Map<String, List<String>> tensorsByShard = new LinkedHashMap<>();
        weightMap.forEach((tensor, shard) -> tensorsByShard.computeIfAbsent(shard, s -> new ArrayList<>()).add(tensor));
        List<String> missingShards = new ArrayList<>();
        for (Map.Entry<String, List<String>> e : tensorsByShard.entrySet()) {
            Path shardPath = modelDir.resolve(e.getKey()).normalize();
            if (!shardPath.startsWith(modelDir.normalize())) {
                throw new ModelFormatException(index + " maps tensor " + e.getValue().get(0) + " to shard " + e.getKey()
                        + ", which lies outside the model folder");
            }
            if (!Files.isRegularFile(shardPath)) {
                missingShards.add(e.getKey() + " (for " + e.getValue().get(0)
                        + (e.getValue().size() > 1 ? " and " + (e.getValue().size() - 1) + " other tensors" : "") + ")");
            }
        }
        if (!missingShards.isEmpty()) {
            throw new ModelFormatException("shard files named by " + index + " are missing from " + modelDir + ": "
                    + String.join(", ", missingShards) + "; found: " + listFolder(modelDir));
        }

        List<SafetensorsFile> files = new ArrayList<>();
        try {
            Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
            for (String shard : tensorsByShard.keySet()) {
                SafetensorsFile file = SafetensorsFile.open(modelDir.resolve(shard), maxChunkBytes);
                files.add(file);
                shards.put(shard, file);
            }
            Map<String, TensorData> tensors = new LinkedHashMap<>();
            for (Map.Entry<String, String> e : weightMap.entrySet()) {
                SafetensorsFile file = shards.get(e.getValue());
                if (!file.contains(e.getKey())) {
                    throw new ModelFormatException(index + " maps tensor " + e.getKey() + " to shard " + e.getValue()
                            + ", but that shard does not contain it (closest names there: "
                            + SimilarNames.closest(e.getKey(), file.names(), 5) + ")");
                }
                tensors.put(e.getKey(), file.tensor(e.getKey()));
            }
            return new WeightFiles(modelDir, List.copyOf(files), tensors);
        } catch (RuntimeException e) {
            files.forEach(SafetensorsFile::close);
            throw e;
        }
    }

    private static Map<String, String> readWeightMap(Path index) {
        JsonNode root;
        try {
            root = JSON.readTree(index.toFile());
        } catch (JsonProcessingException e) {
            throw new ModelFormatException(index + " is not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new ModelFormatException("cannot read " + index + ": " + e, e);
        }
        JsonNode weightMap = root == null ? null : root.get("weight_map");
        if (weightMap == null || !weightMap.isObject() || weightMap.isEmpty()) {
            throw new ModelFormatException(index + " has no weight_map object naming each tensor's shard file");
        }
        Map<String, String> result = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = weightMap.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) {
                throw new ModelFormatException(index + " maps tensor " + e.getKey() + " to " + e.getValue()
                        + ", expected a shard file name");
            }
            result.put(e.getKey(), e.getValue().asText());
        }
        return result;
    }

    private static String listFolder(Path dir) {
        try (Stream<Path> entries = Files.list(dir)) {
            List<String> names = entries.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
            return names.isEmpty() ? "nothing" : String.join(", ", names);
        } catch (IOException e) {
            return "unreadable: " + e.getMessage();
        }
    }

    /** The folder the weights were opened from. */
    public Path modelDir() {
        return modelDir;
    }

    /**
     * The tensor called {@code name}.
     *
     * @throws ModelFormatException when no file of the model holds it; the message lists similar names
     */
    public TensorData tensor(String name) {
        TensorData t = tensors.get(name);
        if (t == null) {
            throw new ModelFormatException("tensor " + name + " is not in the weights of " + modelDir + " ("
                    + tensors.size() + " tensors; closest names: " + SimilarNames.closest(name, tensors.keySet(), 5) + ")");
        }
        // Throws if the weights were closed, so a use-after-close fails here rather than later.
        files.get(0).ensureOpen(name);
        return t;
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** Every tensor name, in index (or header) order. */
    public Set<String> names() {
        return Collections.unmodifiableSet(tensors.keySet());
    }

    /** Bytes of all tensors together (what the model maps, not counting headers). */
    public long totalBytes() {
        long total = 0;
        for (TensorData t : tensors.values()) {
            total += t.byteSize();
        }
        return total;
    }

    /** Unmaps every file; see {@link SafetensorsFile#close()}. Idempotent. */
    @Override
    public void close() {
        for (SafetensorsFile file : files) {
            file.close();
        }
    }

    @Override
    public String toString() {
        return "WeightFiles[" + modelDir + ", " + files.size() + " file(s), " + tensors.size() + " tensors]";
    }
}
