package dev.quantspec.tokenizer;

/**
 * An entry of {@code added_tokens} in tokenizer.json: text that is cut out whole before BPE ever
 * sees it (ChatML markers, BOS/EOS). The flags are Hugging Face's: {@code lstrip}/{@code rstrip}
 * swallow the whitespace on that side into the token, {@code singleWord} matches only when no word
 * character touches the token, {@code normalized} matches against normalized text instead of the
 * raw input, and {@code special} tokens are the ones {@code skipSpecialTokens} drops on decode.
 */
record AddedToken(int id, String content, boolean special, boolean singleWord,
                  boolean lstrip, boolean rstrip, boolean normalized) {}
