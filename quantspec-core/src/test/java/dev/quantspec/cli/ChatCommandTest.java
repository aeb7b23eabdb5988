package dev.quantspec.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quantspec.EngineOptions;
import dev.quantspec.QuantSpecEngine;
import dev.quantspec.generate.GenerationRequest;
import dev.quantspec.testing.TestFiles;
import dev.quantspec.tokenizer.ChatMessage;
import java.util.List;
import org.junit.jupiter.api.Test;

class ChatCommandTest {
    private static final int MAX_NEW = 16;

    /** The greedy reply the engine gives to a conversation: what the chat command must print. */
    private static String reply(QuantSpecEngine engine, ChatMessage... conversation) {
        return engine.generate(GenerationRequest.greedy(engine.encodeChat(List.of(conversation)), MAX_NEW)).text();
    }

    @Test
    void should_keep_the_history_between_turns_and_clear_it_on_reset() {
        // given three turns, a reset before the third, and /exit before a line that must not be read
        String stdin = "Hello there\n\nHow do I list files?\n/reset\nWhat is a package?\n/exit\nnever answered\n";

        // when
        CliRun run = CliRun.withInput(stdin, "chat", "--model", TestFiles.qsTiny().toString(),
                "--max-new-tokens", String.valueOf(MAX_NEW));

        // then each reply is the engine's reply to the conversation so far
        assertThat(run.exitCode()).as(run.toString()).isZero();
        try (QuantSpecEngine engine = QuantSpecEngine.load(TestFiles.qsTiny(), EngineOptions.defaults())) {
            ChatMessage u1 = new ChatMessage("user", "Hello there");
            String a1 = reply(engine, u1);
            String a2 = reply(engine, u1, new ChatMessage("assistant", a1), new ChatMessage("user", "How do I list files?"));
            String a3 = reply(engine, new ChatMessage("user", "What is a package?"));
            String nl = System.lineSeparator();
            assertThat(run.out()).isEqualTo(a1 + nl + a2 + nl + a3 + nl);
            // <|im_end|> ends a reply because generation_config lists it as an end-of-sequence id
            int imEnd = engine.tokenizer().tokenId("<|im_end|>").orElseThrow();
            assertThat(engine.config().isEos(imEnd)).isTrue();
        }
        assertThat(run.out()).doesNotContain("<|im_end|>");
        assertThat(run.err()).contains("(history cleared)");
    }

    @Test
    void should_end_quietly_at_the_end_of_input() {
        // when
        CliRun run = CliRun.withInput("", "chat", "--model", TestFiles.qsTiny().toString());

        // then
        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out()).isEmpty();
    }
}
