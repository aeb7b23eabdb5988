package dev.quantspec.generate;

import dev.quantspec.tokenizer.StreamingDecoder;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * Receives the tokens a decoder produces, in order, and decides when generation ends: an
 * end-of-sequence id, a stop string, the token budget, or cancellation. It turns ids into
 * streamed text, holding back text that might be the start of a stop string so that a stop string
 * never reaches the listener.
 */
final class TokenEmitter {
    private final int[] eosIds;
    private final List<String> stopStrings;
    private final int maxNewTokens;
    private final StreamingDecoder decoder;
    private final GenerationListener listener;
    private final BooleanSupplier cancelled;
    private final int[] ids;               // [maxNewTokens] generated ids
    private final StringBuilder text = new StringBuilder(); // all decoded text so far
    private int count;
    private int emittedChars;              // text[0 .. emittedChars) has reached the listener
    private FinishReason finishReason;
    private int finalTextLength = -1;

    TokenEmitter(int[] eosIds, List<String> stopStrings, int maxNewTokens, StreamingDecoder decoder,
                 GenerationListener listener, BooleanSupplier cancelled) {
        this.eosIds = eosIds.clone();
        this.stopStrings = List.copyOf(stopStrings);
        this.maxNewTokens = maxNewTokens;
        this.decoder = decoder;
        this.listener = listener;
        this.cancelled = cancelled;
        this.ids = new int[maxNewTokens];
    }

    /** Tokens that may still be emitted before the budget is used up. */
    int remaining() {
        return maxNewTokens - count;
    }

    boolean finished() {
        return finishReason != null;
    }

    /** Takes the next generated token; returns whether generation continues. */
    boolean emit(int token) {
        if (finishReason != null) {
            throw new IllegalStateException("emit after the generation finished");
        }
        if (cancelled.getAsBoolean()) {
            finish(FinishReason.CANCELLED, token, "");
            return false;
        }
        ids[count++] = token;
        if (isEos(token)) {
            finish(FinishReason.STOP, token, decoder.flush());
            return false;
        }
        text.append(decoder.append(token));
        int stopAt = findStop();
        if (stopAt >= 0) {
            finalTextLength = stopAt;
            deliver(token, stopAt);
            finishReason = FinishReason.STOP;
            return false;
        }
        if (count == maxNewTokens) {
            finish(FinishReason.LENGTH, token, decoder.flush());
            return false;
        }
        deliver(token, text.length() - heldBack());
        return true;
    }

    private void finish(FinishReason reason, int token, String tail) {
        text.append(tail);
        if (reason != FinishReason.CANCELLED) {
            int stopAt = findStop();
            finalTextLength = stopAt >= 0 ? stopAt : text.length();
            deliver(token, finalTextLength);
        } else {
            finalTextLength = emittedChars; // what the listener saw is the result
        }
        finishReason = reason;
    }

    /** Sends text[emittedChars .. upTo) to the listener with {@code token}. */
    private void deliver(int token, int upTo) {
        String delta = upTo > emittedChars ? text.substring(emittedChars, upTo) : "";
        emittedChars = Math.max(emittedChars, upTo);
        listener.onToken(token, delta);
    }

    private boolean isEos(int token) {
        for (int e : eosIds) {
            if (e == token) {
                return true;
            }
        }
        return false;
    }

    /** Start of the first stop string in the not-yet-emitted text, or -1. */
    private int findStop() {
        int best = -1;
        for (String s : stopStrings) {
            int at = text.indexOf(s, Math.max(0, emittedChars));
            if (at >= 0 && (best < 0 || at < best)) {
                best = at;
            }
        }
        return best;
    }

    /** Length of the longest suffix of the pending text that is a proper prefix of a stop string. */
    private int heldBack() {
        int pending = text.length() - emittedChars;
        int hold = 0;
        for (String s : stopStrings) {
            for (int len = Math.min(s.length() - 1, pending); len > hold; len--) {
                if (endsWithPrefix(s, len)) {
                    hold = len;
                    break;
                }
            }
        }
        return hold;
    }

    /** Whether the text ends with the first {@code len} characters of {@code s}. */
    private boolean endsWithPrefix(String s, int len) {
        int from = text.length() - len;
        for (int i = 0; i < len; i++) {
            if (text.charAt(from + i) != s.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    int[] ids() {
        return java.util.Arrays.copyOf(ids, count);
    }

    String text() {
        return text.substring(0, finalTextLength >= 0 ? finalTextLength : text.length());
    }

    FinishReason finishReason() {
        return finishReason;
    }

    int count() {
        return count;
    }
}
