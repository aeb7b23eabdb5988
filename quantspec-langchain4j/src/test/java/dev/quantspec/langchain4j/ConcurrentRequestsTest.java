package dev.quantspec.langchain4j;

import static org.assertj.core.api.Assertions.assertThat;

import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.quantspec.QuantSpecEngine;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Many threads on one model instance: requests never share decode state. */
class ConcurrentRequestsTest {
    private static final int THREADS = 8;
    private static final int REQUESTS_PER_THREAD = 5;

    private static QuantSpecEngine engine;

    @BeforeAll
    static void loadModel() {
        engine = TestModels.loadQsTiny(128);
    }

    @AfterAll
    static void closeModel() {
        engine.close();
    }

    private static String prompt(int thread, int request) {
        return "Question " + thread + "." + request + ": " + (thread % 2 == 0 ? "explain caching" : "write a loop");
    }

    @Test
    void should_answer_8_threads_x_5_requests_exactly_as_each_request_alone() throws Exception {
        // given: every request's greedy answer when it runs alone
        QuantSpecChatModel model = QuantSpecChatModel.builder().engine(engine).maxOutputTokens(6).build();
        Map<String, ChatResponse> alone = new ConcurrentHashMap<>();
        for (int t = 0; t < THREADS; t++) {
            for (int r = 0; r < REQUESTS_PER_THREAD; r++) {
                alone.put(prompt(t, r), model.chat(ChatRequest.builder().messages(UserMessage.from(prompt(t, r))).build()));
            }
        }
        assertThat(alone.values().stream().map(c -> c.aiMessage().text()).distinct().count())
                .as("the prompts must lead to different answers, or a mix-up could go unseen").isGreaterThan(1);

        // when: all at once, released together
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<Map<String, ChatResponse>>> futures = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            int thread = t;
            futures.add(pool.submit(() -> {
                start.await();
                Map<String, ChatResponse> answers = new ConcurrentHashMap<>();
                for (int r = 0; r < REQUESTS_PER_THREAD; r++) {
                    answers.put(prompt(thread, r), model.chat(ChatRequest.builder()
                            .messages(UserMessage.from(prompt(thread, r))).build()));
                }
                return answers;
            }));
        }
        start.countDown();
        Map<String, ChatResponse> together = new ConcurrentHashMap<>();
        for (Future<Map<String, ChatResponse>> f : futures) {
            together.putAll(f.get(5, TimeUnit.MINUTES)); // rethrows any exception of a request
        }
        pool.shutdown();

        // then: nothing lost, every answer and usage identical to the lone run
        assertThat(together).hasSize(THREADS * REQUESTS_PER_THREAD);
        together.forEach((prompt, response) -> {
            ChatResponse expected = alone.get(prompt);
            assertThat(response.aiMessage().text()).as(prompt).isEqualTo(expected.aiMessage().text());
            assertThat(response.metadata().tokenUsage()).as(prompt).isEqualTo(expected.metadata().tokenUsage());
            assertThat(response.metadata().finishReason()).as(prompt).isEqualTo(expected.metadata().finishReason());
        });
    }
}
