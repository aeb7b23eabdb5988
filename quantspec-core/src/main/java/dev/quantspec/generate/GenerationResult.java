package dev.quantspec.generate;

/**
 * What a generation produced.
 *
 * @param ids          generated ids, including a final end-of-sequence id when that ended it
 * @param text         the decoded text, without special tokens and cut before a stop string
 * @param finishReason why it ended
 * @param stats        counts, timings and speculation statistics
 */
public record GenerationResult(int[] ids, String text, FinishReason finishReason, DecodeStats stats) {
    public GenerationResult {
        ids = ids.clone();
    }

    @Override
    public int[] ids() {
        return ids.clone();
    }
}
