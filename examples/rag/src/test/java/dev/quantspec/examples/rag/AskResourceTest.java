package dev.quantspec.examples.rag;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

@QuarkusTest
class AskResourceTest {

    @Inject
    PromptRecorder prompts;

    @Test
    void should_answer_with_the_matching_document_in_the_model_prompt() {
        // given the documents folder (lighthouse, sourdough, QuantSpec)
        prompts.userMessages.clear();
        // when
        String answer = given().queryParam("q", "Who kept the lighthouse lamp burning?")
                .when().get("/ask")
                .then().statusCode(200).extract().asString();
        // then the model answered, and what it was asked carried the lighthouse text, not the sourdough one
        assertThat(answer).isNotBlank();
        assertThat(prompts.userMessages).hasSize(1);
        assertThat(prompts.userMessages.get(0))
                .contains("Who kept the lighthouse lamp burning?")
                .contains("Marta Quinlan")
                .doesNotContain("sourdough");
    }

    @Test
    void should_reject_an_empty_question() {
        given().queryParam("q", "").when().get("/ask").then().statusCode(400);
    }
}
