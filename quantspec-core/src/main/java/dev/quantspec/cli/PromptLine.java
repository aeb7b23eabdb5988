package dev.quantspec.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.quantspec.QuantSpecEngine;
import java.util.Set;
import java.util.function.Function;

/**
 * One request of {@code generate --input}: {@code {"id", "prompt" | "prompt_ids", "max_new_tokens"?}},
 * checked completely (ids in the vocabulary, the budget fits the context) before any generation
 * starts, so a bad line 900 does not waste the work on lines 1..899.
 *
 * @param line         where it came from
 * @param promptIds    the prompt, special tokens included
 * @param maxNewTokens the line's budget, or the command's default
 */
record PromptLine(JsonLines.Line line, int[] promptIds, int maxNewTokens) {
    static final Set<String> FIELDS = new java.util.LinkedHashSet<>(java.util.List.of("id", "prompt", "prompt_ids", "max_new_tokens"));

    /**
     * @param encode turns a "prompt" string into ids (BOS added, or the chat template applied)
     */
    static PromptLine parse(JsonLines.Line line, QuantSpecEngine engine, Function<String, int[]> encode, int defaultMaxNew) {
        line.requireOnlyFields(FIELDS);
        JsonNode prompt = line.object().get("prompt");
        JsonNode promptIds = line.object().get("prompt_ids");
        if ((prompt == null) == (promptIds == null)) {
            throw line.error(prompt == null ? "needs \"prompt\" (text) or \"prompt_ids\" (token ids)"
                    : "has both \"prompt\" and \"prompt_ids\": give exactly one");
        }
        int[] ids = prompt != null ? encode.apply(line.string("prompt")) : ids(line, promptIds, engine.config().vocabSize());
        int maxNew = defaultMaxNew;
        JsonNode m = line.object().get("max_new_tokens");
        if (m != null) {
            if (!m.canConvertToInt() || !m.isIntegralNumber() || m.intValue() < 1) {
                throw line.error("\"max_new_tokens\" must be an integer >= 1, got " + m);
            }
            maxNew = m.intValue();
        }
        if (ids.length + maxNew > engine.contextLength()) {
            throw line.error("the prompt has " + ids.length + " tokens and max_new_tokens is " + maxNew
                    + ", more than the context of " + engine.contextLength() + " tokens");
        }
        return new PromptLine(line, ids, maxNew);
    }

    private static int[] ids(JsonLines.Line line, JsonNode node, int vocabSize) {
        if (!node.isArray() || node.isEmpty()) {
            throw line.error("\"prompt_ids\" must be a non-empty array of token ids, got " + abbreviate(node));
        }
        int[] ids = new int[node.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode v = node.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() < 0 || v.intValue() >= vocabSize) {
                throw line.error("\"prompt_ids\"[" + i + "] = " + v + " is not a token id in [0, " + vocabSize + ")");
            }
            ids[i] = v.intValue();
        }
        return ids;
    }

    private static String abbreviate(JsonNode node) {
        String s = node.toString();
        return s.length() > 60 ? s.substring(0, 57) + "..." : s;
    }
}
