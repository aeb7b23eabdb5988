package dev.quantspec.examples.chat;

/**
 * One server-sent event of a streamed answer: a {@code token} (a piece of text), then one
 * {@code done} with the decoding figures, or one {@code error}.
 *
 * @param type            token, done or error
 * @param text            the piece of text (token), or the message (error)
 * @param outputTokens    tokens generated (done)
 * @param tokensPerSecond decode speed, prefill excluded (done)
 * @param acceptanceRate  accepted / drafted tokens, null for autoregressive decoding (done)
 */
public record ChatEvent(String type, String text, Integer outputTokens, Double tokensPerSecond, Double acceptanceRate) {

    static ChatEvent token(String text) {
        return new ChatEvent("token", text, null, null, null);
    }

    static ChatEvent done(Integer outputTokens, Double tokensPerSecond, Double acceptanceRate) {
        return new ChatEvent("done", null, outputTokens, tokensPerSecond, acceptanceRate);
    }

    static ChatEvent error(String message) {
        return new ChatEvent("error", message, null, null, null);
    }
}
