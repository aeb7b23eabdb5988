package dev.quantspec.langchain4j;

import dev.langchain4j.exception.InvalidRequestException;
import dev.quantspec.ContextLengthExceededException;
import dev.quantspec.generate.DecoderKind;
import dev.quantspec.generate.GenerationRequest;
import dev.quantspec.generate.KvCacheKind;
import dev.quantspec.generate.SamplingParams;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Turns a rendered prompt and the request's final (merged) parameters into an engine request.
 *
 * <p>The token budget: an unset {@code maxOutputTokens} means "until the context is full", and an
 * explicit one larger than the room left is cut to that room. Either way, running out of context
 * ends the answer with {@code FinishReason.LENGTH}, exactly like running out of budget. Only a
 * prompt that alone fills the context is an error: nothing at all could be generated.
 */
final class GenerationPlanner {
    private GenerationPlanner() {}

    static GenerationRequest plan(int[] promptIds, QuantSpecChatRequestParameters p, int contextLength) {
        int room = contextLength - promptIds.length;
        if (room < 1) {
            int asked = p.maxOutputTokens() != null ? p.maxOutputTokens() : 1;
            ContextLengthExceededException cause = new ContextLengthExceededException(promptIds.length, asked, contextLength);
            throw new InvalidRequestException("the rendered prompt has " + promptIds.length
                    + " tokens, which leaves no room in the model's context of " + contextLength
                    + " tokens: shorten the conversation (e.g. a smaller chat memory window)", cause);
        }
        if (p.maxOutputTokens() != null && p.maxOutputTokens() < 1) {
            throw new InvalidRequestException("maxOutputTokens must be >= 1, got " + p.maxOutputTokens());
        }
        int maxNewTokens = p.maxOutputTokens() == null ? room : Math.min(p.maxOutputTokens(), room);
        List<String> stops = p.stopSequences() == null ? List.of()
                : p.stopSequences().stream().filter(s -> s != null && !s.isEmpty()).toList();
        int gamma = p.gamma() == null ? 0 : p.gamma();
        if (gamma < 0 || gamma > 64) {
            throw new InvalidRequestException("gamma must be in 1..64 (or unset for the engine's default), got " + gamma);
        }
        return new GenerationRequest(promptIds, maxNewTokens, sampling(p), stops, false,
                p.decoder() == null ? DecoderKind.AUTOREGRESSIVE : p.decoder(),
                p.kvCache() == null ? KvCacheKind.FULL : p.kvCache(), gamma);
    }

    /** Unset temperature is greedy: the model's generation_config (do_sample=false) and reproducible. */
    static SamplingParams sampling(QuantSpecChatRequestParameters p) {
        double temperature = p.temperature() == null ? 0.0 : p.temperature();
        double topP = p.topP() == null ? 1.0 : p.topP();
        int topK = p.topK() == null ? 0 : p.topK();
        long seed = p.seed() != null ? p.seed() : ThreadLocalRandom.current().nextLong();
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new InvalidRequestException("temperature must be a finite number >= 0 (0 = greedy), got " + temperature);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new InvalidRequestException("topP must be in (0, 1], got " + topP);
        }
        if (topK < 0) {
            throw new InvalidRequestException("topK must be >= 0 (0 = no cut), got " + topK);
        }
        return new SamplingParams((float) temperature, topK, (float) topP, seed);
    }
}
