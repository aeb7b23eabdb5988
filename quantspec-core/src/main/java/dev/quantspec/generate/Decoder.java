package dev.quantspec.generate;

/** Produces tokens for one request until the emitter says stop. */
interface Decoder {
    void run(int[] prompt, TokenEmitter emitter, DecodeStats stats);
}
