package dev.quantspec.tokenizer;

import dev.quantspec.ModelFormatException;
import dev.quantspec.QuantSpecException;
import dev.quantspec.testing.TestFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Chat templates rendered with Jinjava. The expected strings of the Llama 3, Mistral and multi-line
 * templates were rendered with Python Jinja 3.1.6 in Hugging Face's configuration
 * (trim_blocks, lstrip_blocks, raise_exception).
 */
class ChatTemplateTest {
    private static final List<ChatMessage> CONVERSATION = List.of(
            new ChatMessage("system", "You are terse."),
            new ChatMessage("user", "Hi  {{x}}"),
            new ChatMessage("assistant", "Hello."),
            new ChatMessage("user", "Bye"));
    private static final List<ChatMessage> ALTERNATING = List.of(
            new ChatMessage("user", " Q1 "),
            new ChatMessage("assistant", "A1"),
            new ChatMessage("user", "Q2"));

    private static final String LLAMA3 = "{% set loop_messages = messages %}{% for message in loop_messages %}"
            + "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim"
            + " + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}"
            + "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";
    private static final String MISTRAL = "{{ bos_token }}{% for message in messages %}"
            + "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
            + "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
            + "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
            + "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
            + "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";
    private static final String MULTILINE = """
            {% for message in messages %}
              {% if loop.first and message.role == 'system' %}
            <<SYS>>{{ message.content }}<</SYS>>
              {% else %}
            {{ message.role | upper }}: {{ message.content }}
              {% endif %}
            {% endfor %}
            {% if add_generation_prompt %}
            ASSISTANT:
            {% endif %}
            """;

    @TempDir
    Path dir;

    @Test
    void should_render_qs_tiny_chatml_with_and_without_generation_prompt() {
        // given qs-tiny's template
        ChatTemplate template = ChatTemplate.fromTokenizerConfig(TestFiles.qsTiny().resolve("tokenizer_config.json"));
        String turns = "<|begin_of_text|>"
                + "<|im_start|>system\nYou are terse.<|im_end|>\n"
                + "<|im_start|>user\nHi  {{x}}<|im_end|>\n"
                + "<|im_start|>assistant\nHello.<|im_end|>\n"
                + "<|im_start|>user\nBye<|im_end|>\n";
        // when rendering system + user + assistant + user
        // then the text is exact ChatML, with the assistant header only when asked for,
        // and message text that looks like Jinja is left alone
        assertThat(template.render(CONVERSATION, true)).isEqualTo(turns + "<|im_start|>assistant\n");
        assertThat(template.render(CONVERSATION, false)).isEqualTo(turns);
    }

    @Test
    void should_encode_the_rendered_prompt_with_single_ids_for_chatml_markers() {
        // given the rendered qs-tiny prompt
        Tokenizer tokenizer = Tokenizer.load(TestFiles.qsTiny().resolve("tokenizer.json"));
        ChatTemplate template = ChatTemplate.fromTokenizerConfig(TestFiles.qsTiny().resolve("tokenizer_config.json"));
        String prompt = template.render(CONVERSATION, true);
        // when encoded without adding special tokens (the template already wrote BOS)
        int[] ids = tokenizer.encode(prompt, false);
        // then BOS (0) appears once, first, and every marker is one id: 5 <|im_start|> (2), 4 <|im_end|> (3)
        assertThat(ids[0]).isZero();
        assertThat(count(ids, 0)).isEqualTo(1);
        assertThat(count(ids, 2)).isEqualTo(5);
        assertThat(count(ids, 3)).isEqualTo(4);
        assertThat(Arrays.copyOfRange(ids, 0, 2)).containsExactly(0, 2);
        assertThat(tokenizer.decode(ids)).isEqualTo(prompt);
    }

    @Test
    void should_render_a_llama3_style_template_like_python_jinja() {
        // given a Llama 3 template (filters binding tighter than +, loop.index0, set inside a loop)
        ChatTemplate template = ChatTemplate.of("llama3", LLAMA3, "<s>", "</s>");
        // when rendering a conversation whose first content has spaces to trim
        // then the output is Jinja's
        assertThat(template.render(ALTERNATING, true)).isEqualTo(
                "<s><|start_header_id|>user<|end_header_id|>\n\nQ1<|eot_id|>"
                        + "<|start_header_id|>assistant<|end_header_id|>\n\nA1<|eot_id|>"
                        + "<|start_header_id|>user<|end_header_id|>\n\nQ2<|eot_id|>"
                        + "<|start_header_id|>assistant<|end_header_id|>\n\n");
        assertThat(template.render(ALTERNATING, false)).endsWith("Q2<|eot_id|>");
    }

    @Test
    void should_render_a_mistral_style_template_like_python_jinja() {
        // given a Mistral template
        ChatTemplate template = ChatTemplate.of("mistral", MISTRAL, "<s>", "</s>");
        // when rendering alternating user/assistant turns
        // then the output is Jinja's
        assertThat(template.render(ALTERNATING, true)).isEqualTo("<s>[INST]  Q1  [/INST]A1</s>[INST] Q2 [/INST]");
    }

    @Test
    void should_surface_raise_exception_as_a_quantspec_exception_with_the_templates_message() {
        // given a Mistral template, which rejects a system turn
        ChatTemplate template = ChatTemplate.of("mistral", MISTRAL, "<s>", "</s>");
        // when rendering a conversation that starts with a system message
        // then the template's own message reaches the caller
        assertThatThrownBy(() -> template.render(CONVERSATION, true)).isInstanceOf(QuantSpecException.class)
                .hasMessageContaining("mistral")
                .hasMessageContaining("Conversation roles must alternate user/assistant/user/assistant/...");
    }

    @Test
    void should_trim_and_lstrip_blocks_like_hugging_face() {
        // given a template with block tags on their own indented lines and a trailing newline
        ChatTemplate template = ChatTemplate.of("multiline", MULTILINE, "<s>", "</s>");
        // when rendered
        // then the tag lines leave no blank lines or indentation behind
        assertThat(template.render(CONVERSATION, true))
                .isEqualTo("<<SYS>>You are terse.<</SYS>>\nUSER: Hi  {{x}}\nASSISTANT: Hello.\nUSER: Bye\nASSISTANT:\n");
        assertThat(template.render(ALTERNATING, false)).isEqualTo("USER:  Q1 \nASSISTANT: A1\nUSER: Q2\n");
    }

    @Test
    void should_report_a_template_syntax_error_with_jinjas_message() {
        // given a template with an unclosed for loop
        ChatTemplate template = ChatTemplate.of("broken", "{% for m in messages %}{{ m.content }}", "<s>", "</s>");
        // when rendered / then the failure names the template and the missing end tag
        assertThatThrownBy(() -> template.render(ALTERNATING, true)).isInstanceOf(QuantSpecException.class)
                .hasMessageContaining("broken").hasMessageContaining("endfor");
    }

    @Test
    void should_fail_on_render_when_the_config_has_no_template() throws IOException {
        // given a config without chat_template, with tokens in the {"content": ...} form
        Path config = dir.resolve("tokenizer_config.json");
        Files.writeString(config, "{\"bos_token\": {\"content\": \"<s>\"}, \"eos_token\": \"</s>\"}");
        ChatTemplate template = ChatTemplate.fromTokenizerConfig(config);
        // when rendered / then the error names the file and says the template is missing
        assertThat(template.isPresent()).isFalse();
        assertThatThrownBy(() -> template.render(ALTERNATING, true)).isInstanceOf(QuantSpecException.class)
                .hasMessageContaining(config.toString()).hasMessageContaining("no chat_template");
    }

    @Test
    void should_read_object_form_tokens_and_a_sibling_chat_template_file() throws IOException {
        // given a config with object-form tokens and the template in chat_template.jinja beside it
        Path config = dir.resolve("tokenizer_config.json");
        Files.writeString(config, "{\"bos_token\": {\"content\": \"<s>\", \"special\": true},"
                + " \"eos_token\": {\"content\": \"</s>\"}}");
        Files.writeString(dir.resolve("chat_template.jinja"),
                "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{{ eos_token }}{% endfor %}\n");
        // when rendered
        String text = ChatTemplate.fromTokenizerConfig(config).render(ALTERNATING, false);
        // then both tokens came from their objects and Jinja's trailing newline was dropped
        assertThat(text).isEqualTo("<s> Q1 </s>A1</s>Q2</s>");
    }

    @Test
    void should_report_a_missing_config_file() {
        // given no file / when loaded / then the error names it
        Path missing = dir.resolve("nothing/tokenizer_config.json");
        assertThatThrownBy(() -> ChatTemplate.fromTokenizerConfig(missing)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(missing.toString()).hasMessageContaining("not found");
    }

    private static int count(int[] ids, int id) {
        return (int) Arrays.stream(ids).filter(x -> x == id).count();
    }
}
