/**
 * Proof of work: compact `bits`, targets, chain work. Rules and encodings are
 * Bitcoin's (`arith_uint256::SetCompact`/`GetCompact`, `GetBlockProof`).
 */

const TWO_256 = 1n << 256n;

/** Result of decoding compact bits. `negative`/`overflow` make the bits invalid. */
export interface CompactTarget {
  target: bigint;
  negative: boolean;
  overflow: boolean;
}

/** Decodes compact `bits` (exponent byte, 23-bit mantissa, sign bit) as Bitcoin's `SetCompact`. */
export function decodeCompact(bits: number): CompactTarget {
  const size = bits >>> 24;
  let word = bits & 0x007fffff;
  let target: bigint;
  if (size <= 3) {
    word >>>= 8 * (3 - size);
    target = BigInt(word);
  } else {
    target = BigInt(word) << BigInt(8 * (size - 3));
  }
  const negative = word !== 0 && (bits & 0x00800000) !== 0;
  const overflow = word !== 0 && (size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32));
  return { target, negative, overflow };
}

/** Encodes a non-negative target as compact bits (Bitcoin's `GetCompact`); precision is lost below the top 3 bytes. */
export function encodeCompact(target: bigint): number {
  if (target < 0n) throw new RangeError('target must be non-negative');
  let size = 0;
  for (let t = target; t > 0n; t >>= 8n) size++;
  let compact: number;
  if (size <= 3) {
    compact = Number(target << BigInt(8 * (3 - size)));
  } else {
    compact = Number(target >> BigInt(8 * (size - 3)));
  }
  if (compact & 0x00800000) {
    compact >>>= 8;
    size++;
  }
  return ((compact | (size << 24)) >>> 0);
}

/**
 * The target of valid `bits`, or `undefined` when they are negative, overflow,
 * zero, or easier than `powLimit`.
 */
export function targetFromBits(bits: number, powLimit: bigint): bigint | undefined {
  const { target, negative, overflow } = decodeCompact(bits);
  if (negative || overflow || target === 0n || target > powLimit) return undefined;
  return target;
}

/**
 * The hash as the 256-bit integer compared with the target: Bitcoin reads the
 * SHA-256d output as little-endian, so byte 31 is the most significant.
 */
export function hashToBigInt(internal: Uint8Array): bigint {
  let v = 0n;
  for (let i = 31; i >= 0; i--) v = (v << 8n) | BigInt(internal[i]!);
  return v;
}

/** True when `hash` (internal byte order) is at or below `target`. */
export function hashMeetsTarget(internal: Uint8Array, target: bigint): boolean {
  return hashToBigInt(internal) <= target;
}

/** Expected number of hashes to find a block at `target`: ⌊2^256 / (target + 1)⌋ (Bitcoin's `GetBlockProof`). */
export function workFromTarget(target: bigint): bigint {
  return TWO_256 / (target + 1n);
}

/** Work of a block with these (valid) bits; 0 for invalid bits. */
export function workFromBits(bits: number): bigint {
  const { target, negative, overflow } = decodeCompact(bits);
  if (negative || overflow || target === 0n) return 0n;
  return workFromTarget(target);
}

/**
 * The next target under ASERT, Bitcoin Cash's absolutely scheduled
 * exponentially rising targets (aserti3-2d, Mark Lundeberg and Jonathan
 * Toomim, 2020): the target doubles for every `halfLifeSeconds` the chain
 * is behind its schedule and halves for every `halfLifeSeconds` it is ahead.
 * The schedule is `anchor time + spacing × blocks since the anchor`, so the
 * difficulty depends only on the anchor and the newest block, never on a
 * window's first block (nothing to timewarp).
 *
 * `timeDiffSeconds` is the newest block's time minus the anchor's,
 * `heightDiff` their height difference. The exponent is 16.16 fixed point,
 * 2^fraction the specification's cubic approximation (error under 0.013 %),
 * in integers only so every node computes the same bits. The result is
 * clamped to [1, powLimit]; shifts beyond what could change that clamp are
 * cut short, so hostile times cost nothing extra.
 */
export function asertTarget(anchorTarget: bigint, timeDiffSeconds: number, heightDiff: number, spacingSeconds: number, halfLifeSeconds: number, powLimit: bigint): bigint {
  // BigInt division truncates toward zero and >> floors, as C++'s / and >> on the specification's int64.
  let exponent = (BigInt(timeDiffSeconds - spacingSeconds * heightDiff) * 65536n) / BigInt(halfLifeSeconds);
  const shifts = exponent >> 16n;
  exponent -= shifts * 65536n;
  // anchorTarget < 2^256 and the factor < 2^17: beyond these shifts the clamp decides.
  if (shifts >= 256n) return powLimit;
  if (shifts <= -(256n + 17n)) return 1n;
  const factor = ((195_766_423_245_049n * exponent + 971_821_376n * exponent ** 2n + 5_127n * exponent ** 3n + (1n << 47n)) >> 48n) + 65_536n;
  let next = anchorTarget * factor;
  next = shifts < 0n ? next >> -shifts : next << shifts;
  next >>= 16n;
  if (next === 0n) return 1n;
  return next > powLimit ? powLimit : next;
}
