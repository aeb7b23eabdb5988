package dev.quantspec.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import dev.quantspec.ModelFormatException;
import dev.quantspec.QuantSpecException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The model's chat template ({@code chat_template} of tokenizer_config.json, a Jinja template)
 * rendered with Jinjava, configured to behave like the Jinja environment Hugging Face's
 * {@code apply_chat_template} uses: {@code trim_blocks} and {@code lstrip_blocks} on, a single
 * trailing newline of the template dropped, undefined variables rendering as empty, and
 * {@code raise_exception(message)} available to templates that validate the conversation.
 *
 * <p>Templates see {@code messages} (a list of {@code {role, content}} maps),
 * {@code add_generation_prompt}, {@code bos_token} and {@code eos_token}.
 *
 * <p>A config without a template is accepted at load time (base models often have none) and
 * {@link #render} then fails with an error naming the file: silently falling back to some generic
 * format would produce prompts the model was never trained on.
 */
public final class ChatTemplate {
    /** Marks a failure raised by the template itself, so its message reaches the caller unchanged. */
    private static final String RAISED_PREFIX = "chat template raised: ";

    private final String source;
    /** The Jinja source, or null when the config has none. */
    private final String template;
    private final String bosToken;
    private final String eosToken;
    private final Jinjava jinjava;

    private ChatTemplate(String source, String template, String bosToken, String eosToken) {
        this.source = source;
        this.template = template == null ? null : dropOneTrailingNewline(template);
        this.bosToken = bosToken;
        this.eosToken = eosToken;
        this.jinjava = newJinjava();
    }

    /**
     * Reads {@code chat_template}, {@code bos_token} and {@code eos_token} (each token either a string
     * or a {@code {"content": ...}} object) from a Hugging Face tokenizer_config.json. A template kept
     * beside it in {@code chat_template.jinja}, as newer exports do, is used when the config has none.
     *
     * @throws ModelFormatException if the file is missing or not a JSON object
     */
    public static ChatTemplate fromTokenizerConfig(Path tokenizerConfigJson) {
        JsonNode config;
        try {
            config = new ObjectMapper().readTree(Files.readAllBytes(tokenizerConfigJson));
        } catch (NoSuchFileException e) {
            throw new ModelFormatException("tokenizer config not found: " + tokenizerConfigJson, e);
        } catch (JsonProcessingException e) {
            throw new ModelFormatException("tokenizer config " + tokenizerConfigJson + " is not valid JSON: "
                    + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new ModelFormatException("cannot read tokenizer config " + tokenizerConfigJson + ": " + e.getMessage(), e);
        }
        if (config == null || !config.isObject()) {
            throw new ModelFormatException("tokenizer config " + tokenizerConfigJson + " is not a JSON object");
        }
        String template = templateFrom(config.path("chat_template"), tokenizerConfigJson);
        if (template == null) {
            template = siblingTemplate(tokenizerConfigJson);
        }
        return new ChatTemplate(tokenizerConfigJson.toString(), template,
                tokenText(config.path("bos_token")), tokenText(config.path("eos_token")));
    }

    /** A template given directly (tests, or a user-supplied template); {@code source} names it in errors. */
    public static ChatTemplate of(String source, String template, String bosToken, String eosToken) {
        return new ChatTemplate(source, template, bosToken, eosToken);
    }

    /**
     * Renders the conversation as the prompt text the model was trained on.
     *
     * @param addGenerationPrompt whether to end with the header that opens the assistant's turn
     * @throws QuantSpecException if there is no template, the template does not parse, or it calls
     *     {@code raise_exception} (the message is the template's)
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        if (template == null) {
            throw new QuantSpecException(source + " has no chat_template; this model defines no chat format"
                    + " (use plain-text prompts, or supply a template)");
        }
        List<Map<String, Object>> turns = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            Map<String, Object> turn = new LinkedHashMap<>();
            turn.put("role", m.role());
            turn.put("content", m.content());
            turns.add(turn);
        }
        Map<String, Object> bindings = new HashMap<>();
        bindings.put("messages", turns);
        bindings.put("add_generation_prompt", addGenerationPrompt);
        bindings.put("bos_token", bosToken == null ? "" : bosToken);
        bindings.put("eos_token", eosToken == null ? "" : eosToken);

        RenderResult result;
        try {
            result = jinjava.renderForResult(template, bindings);
        } catch (RuntimeException e) {
            throw new QuantSpecException("chat template of " + source + " failed: " + rootMessage(e), e);
        }
        for (TemplateError error : result.getErrors()) {
            if (error.getSeverity() == TemplateError.ErrorType.FATAL) {
                throw new QuantSpecException("chat template of " + source + " failed"
                        + (error.getLineno() > 0 ? " at line " + error.getLineno() : "") + ": " + describe(error));
            }
        }
        return result.getOutput();
    }

    /** True if the config provided a template; without one {@link #render} fails. */
    public boolean isPresent() {
        return template != null;
    }

    /**
     * Called by templates as {@code raise_exception('...')} to reject a conversation (wrong role
     * order, unsupported role). Public only because Jinjava invokes it reflectively.
     */
    public static String raiseException(String message) {
        throw new IllegalArgumentException(RAISED_PREFIX + message);
    }

    private static Jinjava newJinjava() {
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withFailOnUnknownTokens(false)          // Jinja's default Undefined renders as empty
                .withNestedInterpretationEnabled(false)  // message text containing "{{" stays text
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withUseNaturalOperatorPrecedence(true)  // filters bind tighter than +, as in Jinja
                        .withParseWhitespaceControlStrictly(true)
                        .withKeepNullableLoopValues(true)
                        .build())
                .build();
        Jinjava jinjava = new Jinjava(config);
        jinjava.getGlobalContext().registerFunction(
                new ELFunctionDefinition("", "raise_exception", ChatTemplate.class, "raiseException", String.class));
        return jinjava;
    }

    private static String describe(TemplateError error) {
        String message = error.getMessage();
        if (error.getException() != null) {
            String root = rootMessage(error.getException());
            if (root.contains(RAISED_PREFIX)) {
                return root.substring(root.indexOf(RAISED_PREFIX));
            }
        }
        if (message != null && message.contains(RAISED_PREFIX)) {
            return message.substring(message.indexOf(RAISED_PREFIX));
        }
        return message;
    }

    private static String rootMessage(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getMessage() == null ? root.toString() : root.getMessage();
    }

    /** Jinja (without keep_trailing_newline) drops one newline at the end of a template's source. */
    private static String dropOneTrailingNewline(String template) {
        if (template.endsWith("\r\n")) {
            return template.substring(0, template.length() - 2);
        }
        if (template.endsWith("\n")) {
            return template.substring(0, template.length() - 1);
        }
        return template;
    }

    /** The template text: a string, or the "default" entry of a list of named templates. */
    private static String templateFrom(JsonNode node, Path file) {
        if (node.isTextual()) {
            return node.asText();
        }
        if (node.isArray()) {
            for (JsonNode named : node) {
                if (named.path("name").asText().equals("default") && named.path("template").isTextual()) {
                    return named.get("template").asText();
                }
            }
            throw new ModelFormatException("tokenizer config " + file
                    + " lists chat templates but none named \"default\"");
        }
        if (!node.isMissingNode() && !node.isNull()) {
            throw new ModelFormatException("tokenizer config " + file + " has a chat_template that is neither"
                    + " a string nor a list of named templates: " + node.getNodeType());
        }
        return null;
    }

    private static String siblingTemplate(Path configFile) {
        Path parent = configFile.toAbsolutePath().getParent();
        Path jinja = parent == null ? null : parent.resolve("chat_template.jinja");
        if (jinja == null || !Files.isRegularFile(jinja)) {
            return null;
        }
        try {
            return Files.readString(jinja);
        } catch (IOException e) {
            throw new ModelFormatException("cannot read chat template " + jinja + ": " + e.getMessage(), e);
        }
    }

    /** A special token given as a plain string or as an AddedToken object {@code {"content": ...}}. */
    private static String tokenText(JsonNode node) {
        if (node.isTextual()) {
            return node.asText();
        }
        if (node.isObject() && node.path("content").isTextual()) {
            return node.get("content").asText();
        }
        return null;
    }
}
