package dev.quantspec.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.quantspec.ModelFormatException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.regex.PatternSyntaxException;

/**
 * Reads a Hugging Face {@code tokenizer.json} into a {@link Tokenizer}, accepting only the parts
 * that the Java pipeline reproduces exactly and naming the file and the offending entry otherwise.
 * Accepted: model BPE (vocab, merges as {@code "a b"} strings or {@code ["a","b"]} pairs,
 * {@code ignore_merges}, {@code byte_fallback}, {@code unk_token}); normalizer null or NFC/NFD/NFKC/NFKD;
 * pre-tokenizer ByteLevel, alone or last in a Sequence after Split steps; decoder ByteLevel;
 * post-processor null, ByteLevel, TemplateProcessing, or a Sequence of those.
 */
final class TokenizerJsonReader {
    private final Path file;

    private TokenizerJsonReader(Path file) {
        this.file = file;
    }

    static Tokenizer read(Path file) {
        return new TokenizerJsonReader(file).read();
    }

    private Tokenizer read() {
        JsonNode root = parse();
        JsonNode model = root.path("model");
        if (!model.isObject()) {
            throw error("has no \"model\" object");
        }
        String modelType = model.path("type").asText("BPE");  // files from old versions omit it for BPE
        if (!modelType.equals("BPE")) {
            throw error("uses model type '" + modelType + "', which is not supported (only byte-level BPE is)");
        }
        rejectUnlessNullOrEmpty(model, "continuing_subword_prefix");
        rejectUnlessNullOrEmpty(model, "end_of_word_suffix");
        JsonNode dropout = model.path("dropout");
        if (dropout.isNumber() && dropout.asDouble() != 0.0) {
            throw error("sets model.dropout = " + dropout.asDouble()
                    + "; BPE dropout makes encoding random and is not supported");
        }

        Map<String, Integer> vocab = readVocab(model.path("vocab"));
        List<AddedToken> addedTokens = readAddedTokens(root.path("added_tokens"));
        int maxId = vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1);
        for (AddedToken t : addedTokens) {
            maxId = Math.max(maxId, t.id());
        }
        String[] tokenTexts = new String[maxId + 1];
        boolean[] special = new boolean[maxId + 1];
        Map<String, Integer> tokenIds = new HashMap<>(vocab);
        vocab.forEach((text, id) -> tokenTexts[id] = text);
        for (AddedToken t : addedTokens) {
            tokenTexts[t.id()] = t.content();  // an added token overrides a vocab entry with its id
            special[t.id()] = t.special();
            tokenIds.put(t.content(), t.id());
        }

        BytePairModel bpe = new BytePairModel(vocab, readMerges(model.path("merges"), vocab),
                byteTokenIds(vocab, model.path("byte_fallback").asBoolean(false)),
                unknownId(model.path("unk_token"), vocab), model.path("fuse_unk").asBoolean(false),
                model.path("ignore_merges").asBoolean(false));

        Normalizer.Form normalization = readNormalizer(root.path("normalizer"));
        PreTokenizer preTokenizer = readPreTokenizer(root.path("pre_tokenizer"));
        checkDecoder(root.path("decoder"));
        List<int[]> template = new ArrayList<>(List.of(new int[0], new int[0]));
        readPostProcessor(root.path("post_processor"), template);

        List<AddedToken> raw = addedTokens.stream().filter(t -> !t.normalized()).toList();
        List<AddedToken> normalized = addedTokens.stream().filter(AddedToken::normalized).toList();
        return new Tokenizer(file, bpe, preTokenizer, new AddedTokenMatcher(raw), new AddedTokenMatcher(normalized),
                normalization, template.get(0), template.get(1), tokenIds, tokenTexts, special);
    }

    private JsonNode parse() {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new ModelFormatException("tokenizer file not found: " + file, e);
        } catch (IOException e) {
            throw new ModelFormatException("cannot read tokenizer file " + file + ": " + e.getMessage(), e);
        }
        try {
            JsonNode root = new ObjectMapper().readTree(bytes);
            if (root == null || !root.isObject()) {
                throw error("is not a JSON object");
            }
            return root;
        } catch (JsonProcessingException e) {
            throw new ModelFormatException("tokenizer file " + file + " is not valid JSON: " + e.getOriginalMessage()
                    + " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")", e);
        } catch (IOException e) {
            throw new ModelFormatException("cannot read tokenizer file " + file + ": " + e.getMessage(), e);
        }
    }

    private Map<String, Integer> readVocab(JsonNode vocabNode) {
        if (!vocabNode.isObject() || vocabNode.isEmpty()) {
            throw error("has no model.vocab object");
        }
        Map<String, Integer> vocab = new HashMap<>(vocabNode.size() * 2);
        for (Iterator<Map.Entry<String, JsonNode>> it = vocabNode.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().canConvertToInt() || e.getValue().asInt() < 0) {
                throw error("model.vocab maps '" + e.getKey() + "' to " + e.getValue() + ", not a token id >= 0");
            }
            vocab.put(e.getKey(), e.getValue().asInt());
        }
        return vocab;
    }

    private MergeTable readMerges(JsonNode mergesNode, Map<String, Integer> vocab) {
        if (!mergesNode.isArray()) {
            throw error("has no model.merges array");
        }
        MergeTable table = new MergeTable(mergesNode.size());
        for (int rank = 0; rank < mergesNode.size(); rank++) {
            JsonNode m = mergesNode.get(rank);
            String left;
            String right;
            if (m.isTextual()) {
                String[] parts = m.asText().split(" ", -1);
                if (parts.length != 2) {
                    throw error("model.merges[" + rank + "] = \"" + m.asText() + "\" is not two tokens separated by one space");
                }
                left = parts[0];
                right = parts[1];
            } else if (m.isArray() && m.size() == 2 && m.get(0).isTextual() && m.get(1).isTextual()) {
                left = m.get(0).asText();
                right = m.get(1).asText();
            } else {
                throw error("model.merges[" + rank + "] = " + m + " is neither \"a b\" nor [\"a\", \"b\"]");
            }
            Integer leftId = vocab.get(left);
            Integer rightId = vocab.get(right);
            Integer mergedId = vocab.get(left + right);
            if (leftId == null || rightId == null || mergedId == null) {
                throw error("model.merges[" + rank + "] merges '" + left + "' and '" + right
                        + "', but '" + (leftId == null ? left : rightId == null ? right : left + right)
                        + "' is not in model.vocab");
            }
            table.put(leftId, rightId, rank, mergedId);
        }
        return table;
    }

    /** The id of each byte's single-character token, falling back to {@code <0xAB>} tokens if enabled. */
    private static int[] byteTokenIds(Map<String, Integer> vocab, boolean byteFallback) {
        int[] ids = new int[256];
        Arrays.fill(ids, -1);
        for (int b = 0; b < 256; b++) {
            Integer id = vocab.get(String.valueOf(ByteLevelAlphabet.charOf(b)));
            if (id == null && byteFallback) {
                id = vocab.get(String.format("<0x%02X>", b));
            }
            if (id != null) {
                ids[b] = id;
            }
        }
        return ids;
    }

    private int unknownId(JsonNode unkToken, Map<String, Integer> vocab) {
        if (unkToken.isNull() || unkToken.isMissingNode()) {
            return -1;
        }
        Integer id = vocab.get(unkToken.asText());
        if (id == null) {
            throw error("names model.unk_token '" + unkToken.asText() + "', which is not in model.vocab");
        }
        return id;
    }

    private List<AddedToken> readAddedTokens(JsonNode node) {
        List<AddedToken> tokens = new ArrayList<>();
        if (node.isMissingNode() || node.isNull()) {
            return tokens;
        }
        if (!node.isArray()) {
            throw error("has an added_tokens entry that is not an array");
        }
        for (int i = 0; i < node.size(); i++) {
            JsonNode t = node.get(i);
            if (!t.path("id").canConvertToInt() || t.path("id").asInt() < 0 || !t.path("content").isTextual()) {
                throw error("added_tokens[" + i + "] = " + t + " lacks an integer id >= 0 or a string content");
            }
            tokens.add(new AddedToken(t.get("id").asInt(), t.get("content").asText(),
                    t.path("special").asBoolean(false), t.path("single_word").asBoolean(false),
                    t.path("lstrip").asBoolean(false), t.path("rstrip").asBoolean(false),
                    t.path("normalized").asBoolean(!t.path("special").asBoolean(false))));
        }
        return tokens;
    }

    private Normalizer.Form readNormalizer(JsonNode node) {
        if (node.isNull() || node.isMissingNode()) {
            return null;
        }
        String type = node.path("type").asText();
        return switch (type) {
            case "NFC" -> Normalizer.Form.NFC;
            case "NFD" -> Normalizer.Form.NFD;
            case "NFKC" -> Normalizer.Form.NFKC;
            case "NFKD" -> Normalizer.Form.NFKD;
            default -> throw error("uses normalizer type '" + type
                    + "', which is not supported (only null, NFC, NFD, NFKC and NFKD are)");
        };
    }

    private PreTokenizer readPreTokenizer(JsonNode node) {
        List<JsonNode> steps = new ArrayList<>();
        if (node.path("type").asText().equals("Sequence")) {
            node.path("pretokenizers").forEach(steps::add);
        } else if (!node.isNull() && !node.isMissingNode()) {
            steps.add(node);
        }
        if (steps.isEmpty() || !steps.get(steps.size() - 1).path("type").asText().equals("ByteLevel")) {
            throw error("has pre_tokenizer " + node + "; only ByteLevel, alone or as the last step of a Sequence"
                    + " of Split steps, is supported (this is a byte-level BPE tokenizer)");
        }
        List<PreTokenizer.SplitRule> splits = new ArrayList<>();
        for (JsonNode step : steps.subList(0, steps.size() - 1)) {
            splits.add(readSplit(step));
        }
        JsonNode byteLevel = steps.get(steps.size() - 1);
        return new PreTokenizer(splits, byteLevel.path("add_prefix_space").asBoolean(false),
                byteLevel.path("use_regex").asBoolean(true));
    }

    private PreTokenizer.SplitRule readSplit(JsonNode step) {
        String type = step.path("type").asText();
        if (!type.equals("Split")) {
            throw error("uses pre-tokenizer type '" + type + "' before ByteLevel, which is not supported (only Split is)");
        }
        String behavior = step.path("behavior").asText();
        if (!behavior.equals("Isolated") && !behavior.equals("Removed")) {
            throw error("uses Split behavior '" + behavior + "', which is not supported (only Isolated and Removed are)");
        }
        if (step.path("invert").asBoolean(false)) {
            throw error("uses an inverted Split pre-tokenizer, which is not supported");
        }
        JsonNode pattern = step.path("pattern");
        String regex;
        if (pattern.path("Regex").isTextual()) {
            regex = pattern.get("Regex").asText();
        } else if (pattern.path("String").isTextual()) {
            regex = java.util.regex.Pattern.quote(pattern.get("String").asText());
        } else {
            throw error("has a Split pre-tokenizer without a Regex or String pattern: " + step);
        }
        try {
            return new PreTokenizer.SplitRule(PreTokenizer.compile(regex), behavior.equals("Removed"));
        } catch (PatternSyntaxException e) {
            throw new ModelFormatException("tokenizer file " + file + " has a Split regex that Java cannot compile: "
                    + e.getMessage(), e);
        }
    }

    private void checkDecoder(JsonNode node) {
        List<JsonNode> steps = new ArrayList<>();
        if (node.path("type").asText().equals("Sequence")) {
            node.path("decoders").forEach(steps::add);
        } else {
            steps.add(node);
        }
        boolean onlyByteLevel = !steps.isEmpty()
                && steps.stream().allMatch(s -> s.path("type").asText().equals("ByteLevel"));
        if (!onlyByteLevel) {
            throw error("has decoder " + node + "; only the ByteLevel decoder is supported");
        }
    }

    /** Fills template[0] (ids before the text) and template[1] (ids after it) from the "single" template. */
    private void readPostProcessor(JsonNode node, List<int[]> template) {
        if (node.isNull() || node.isMissingNode()) {
            return;
        }
        String type = node.path("type").asText();
        switch (type) {
            case "ByteLevel" -> { }  // only adjusts offsets, which this tokenizer does not report
            case "Sequence" -> node.path("processors").forEach(p -> readPostProcessor(p, template));
            case "TemplateProcessing" -> readTemplate(node, template);
            default -> throw error("uses post_processor type '" + type
                    + "', which is not supported (only TemplateProcessing, ByteLevel and Sequence are)");
        }
    }

    private void readTemplate(JsonNode node, List<int[]> template) {
        JsonNode single = node.path("single");
        if (!single.isArray()) {
            throw error("has a TemplateProcessing post_processor without a \"single\" template");
        }
        IntList before = new IntList(4);
        IntList after = new IntList(4);
        boolean sawSequence = false;
        for (JsonNode piece : single) {
            if (piece.has("Sequence")) {
                String seq = piece.get("Sequence").path("id").asText();
                if (!seq.equals("A") || sawSequence) {
                    throw error("has a \"single\" template with sequence '" + seq + "' where only one 'A' is allowed");
                }
                sawSequence = true;
            } else if (piece.has("SpecialToken")) {
                String name = piece.get("SpecialToken").path("id").asText();
                JsonNode ids = node.path("special_tokens").path(name).path("ids");
                if (!ids.isArray() || ids.isEmpty()) {
                    throw error("has a template naming special token '" + name
                            + "' that post_processor.special_tokens does not define");
                }
                for (JsonNode id : ids) {
                    (sawSequence ? after : before).add(id.asInt());
                }
            } else {
                throw error("has a template piece that is neither Sequence nor SpecialToken: " + piece);
            }
        }
        template.set(0, concat(template.get(0), before.toArray()));
        template.set(1, concat(template.get(1), after.toArray()));
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private void rejectUnlessNullOrEmpty(JsonNode model, String key) {
        JsonNode value = model.path(key);
        if (!value.isMissingNode() && !value.isNull() && !value.asText().isEmpty()) {
            throw error("sets model." + key + " = " + value + ", which byte-level BPE does not support");
        }
    }

    private ModelFormatException error(String what) {
        return new ModelFormatException("tokenizer file " + file + " " + what);
    }
}
