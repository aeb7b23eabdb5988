package dev.quantspec.quarkus.it;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

import io.quarkus.test.junit.QuarkusTest;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

@QuarkusTest
class AssistantResourceTest {

    @Test
    void should_answer_a_blocking_chat_request_on_a_worker_thread() {
        // given / when
        String answer = given().contentType("text/plain").body("Once upon a time")
                .when().post("/assistant/chat")
                .then().statusCode(200).extract().asString();
        // then
        assertThat(answer).isNotBlank();
    }

    @Test
    void should_stream_the_answer_as_server_sent_events() {
        // given / when
        String body = given().contentType("text/plain").body("Once upon a time")
                .when().post("/assistant/stream")
                .then().statusCode(200).extract().asString();
        // then: several data events, which together are the answer
        List<String> events = Arrays.stream(body.split("\n")).filter(l -> l.startsWith("data:")).toList();
        assertThat(events).hasSizeGreaterThan(1);
    }

    @Test
    void should_be_ready_with_the_model_loaded_on_the_cpu() {
        given().when().get("/q/health/ready")
                .then().statusCode(200)
                .body("status", equalTo("UP"))
                .body("checks.find { it.name == 'QuantSpec models' }.data.'<default>.backend'", equalTo("cpu"))
                .body("checks.find { it.name == 'QuantSpec models' }.data.'<default>.model'", equalTo("qs-tiny"));
    }
}
