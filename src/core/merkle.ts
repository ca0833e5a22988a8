import { concatBytes } from './encoding.js';
import { sha256d } from './hash.js';
import { ZERO_HASH } from './hash.js';

/**
 * Bitcoin's merkle root over 32-byte leaves (internal byte order): pairs are
 * hashed with SHA-256d, an odd last node is paired with itself. The
 * duplication ambiguity of that rule (CVE-2012-2459) is closed by consensus
 * rejecting blocks with duplicate transactions (see `checkBlock`).
 * An empty list gives 32 zero bytes.
 */
export function merkleRoot(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return ZERO_HASH;
  let level = leaves.slice();
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i]!;
      const right = level[i + 1] ?? left;
      next.push(sha256d(concatBytes(left, right)));
    }
    level = next;
  }
  return level[0]!;
}
