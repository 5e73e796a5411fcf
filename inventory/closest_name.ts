/**
 * The "did you mean" of an unknown key: the known name an operator most
 * likely meant (`hostkey` → `hostKey`, `user` → `username`).
 *
 * @module
 */

/**
 * The name in `known` closest to `typed`, or `undefined` when none is close:
 * the same letters in another case, a prefix of at least 3 letters, or at most
 * 2 edits (and fewer than half the letters) away.
 */
export function closestName(typed: string, known: readonly string[]): string | undefined {
  const lower = typed.toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const candidate = name.toLowerCase();
    let distance = editDistance(lower, candidate);
    if (lower.length >= 3 && candidate.startsWith(lower)) distance = Math.min(distance, 1);
    if (distance > 2 || distance * 2 >= Math.max(lower.length, 2)) continue;
    if (best === undefined || distance < best.distance) best = { name, distance };
  }
  return best?.name;
}

/** Levenshtein distance: insertions, deletions and substitutions, one row at a time. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length];
}
