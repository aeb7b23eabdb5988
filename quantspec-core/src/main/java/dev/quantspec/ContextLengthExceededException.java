package dev.quantspec;

/** A prompt, or a prompt plus the requested new tokens, does not fit in the model's context. */
public class ContextLengthExceededException extends QuantSpecException {
    private final int promptTokens;
    private final int maxNewTokens;
    private final int contextLength;

    public ContextLengthExceededException(int promptTokens, int maxNewTokens, int contextLength) {
        super("the prompt has " + promptTokens + " tokens and " + maxNewTokens + " new tokens were requested, "
                + (promptTokens + maxNewTokens) + " in all, but the context holds " + contextLength
                + " tokens: shorten the prompt or ask for at most " + Math.max(0, contextLength - promptTokens)
                + " new tokens");
        this.promptTokens = promptTokens;
        this.maxNewTokens = maxNewTokens;
        this.contextLength = contextLength;
    }

    public int promptTokens() {
        return promptTokens;
    }

    public int maxNewTokens() {
        return maxNewTokens;
    }

    public int contextLength() {
        return contextLength;
    }
}
