package dev.quantspec.examples.chat;

import static org.assertj.core.api.Assertions.assertThat;

import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import java.net.URL;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The page in a real headless Chromium: type a message, see the answer stream in, then the figures. */
@QuarkusTest
class ChatPageBrowserTest {

    @TestHTTPResource("/")
    URL page;

    @Test
    void should_stream_an_answer_into_the_page_and_show_speed_and_acceptance() throws Exception {
        try (WebDriverClient browser = WebDriverClient.start()) {
            // given the chat page
            browser.open(page.toString());
            // when a message is typed and sent
            browser.type(browser.find("#message"), "Once upon a time");
            browser.click(browser.find("#send"));
            // then the answer arrives in several parts, and the figures follow
            String stats = "";
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (System.nanoTime() < deadline && !stats.contains("tokens/s")) {
                Thread.sleep(200);
                stats = browser.text(browser.find("#stats"));
            }
            assertThat(stats).contains("tokens/s").contains("acceptance");
            String answer = browser.find("#answer");
            assertThat(browser.text(answer)).isNotBlank();
            assertThat(Integer.parseInt(browser.attribute(answer, "data-parts"))).isGreaterThan(1);
        }
    }
}
