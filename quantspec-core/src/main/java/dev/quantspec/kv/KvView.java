package dev.quantspec.kv;

/** Which reading of a quantized cache an attention pass uses (QUANTSPEC.md, "Draft and target"). */
public enum KvView {
    /** Upper and lower nibbles (INT8) plus the full-precision buffer: the target model's view. */
    TARGET,
    /** Upper nibbles only (INT4) plus the full-precision buffer: the draft model's view. */
    DRAFT
}
