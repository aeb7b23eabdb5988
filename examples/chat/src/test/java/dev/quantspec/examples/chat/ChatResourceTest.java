package dev.quantspec.examples.chat;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import io.quarkus.test.junit.QuarkusTest;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

@QuarkusTest
class ChatResourceTest {

    @Test
    void should_stream_tokens_then_one_done_event_with_speed_and_acceptance() {
        // given / when
        String body = given().queryParam("message", "Once upon a time")
                .when().get("/chat/stream")
                .then().statusCode(200).extract().asString();
        // then
        List<String> events = Arrays.stream(body.split("\n")).filter(l -> l.startsWith("data:")).toList();
        assertThat(events.stream().filter(e -> e.contains("\"type\":\"token\"")).count()).isGreaterThan(1);
        assertThat(events.get(events.size() - 1))
                .contains("\"type\":\"done\"")
                .contains("\"tokensPerSecond\":")
                .contains("\"acceptanceRate\":");
    }

    @Test
    void should_reject_an_empty_message() {
        given().queryParam("message", " ").when().get("/chat/stream").then().statusCode(400);
    }
}
