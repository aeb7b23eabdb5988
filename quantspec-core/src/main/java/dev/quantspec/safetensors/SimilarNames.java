package dev.quantspec.safetensors;

import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Suggests the known tensor names closest to a missing one, so that "not found" errors show
 * what the file calls the tensor instead (a typo, another naming scheme, a missing prefix).
 */
final class SimilarNames {
    private SimilarNames() {}

    /** Up to {@code limit} names from {@code known}, closest to {@code wanted} first (edit distance). */
    static List<String> closest(String wanted, Collection<String> known, int limit) {
        return known.stream()
                .sorted(Comparator.comparingInt((String k) -> editDistance(wanted, k)).thenComparing(k -> k))
                .limit(limit)
                .collect(Collectors.toList());
    }

    /** Levenshtein distance with two rolling rows. */
    static int editDistance(String a, String b) {
        int[] previous = new int[b.length() + 1]; // [b.length()+1] distances of a[0..i) to every prefix of b
        int[] current = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            current[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int substitution = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                current[j] = Math.min(substitution, Math.min(previous[j], current[j - 1]) + 1);
            }
            int[] swap = previous;
            previous = current;
            current = swap;
        }
        return previous[b.length()];
    }
}
