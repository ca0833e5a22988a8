/**
 * SHA-256 pieces shared by every mining kernel: the round constants, the
 * compression function (FIPS 180-4 §6.2.2) and the per-job precomputation of
 * an 80-byte header (Bitcoin's layout).
 *
 * SHA-256d of a header is three compressions: the header's first 64 bytes
 * (the same for every nonce, computed once: the *midstate*), the last 16
 * bytes plus padding, then the 32-byte digest plus padding. Of the second
 * block only word 3 (the nonce) changes, so its first 3 rounds, a part of
 * round 3 and the nonce-free terms of its message schedule are computed once
 * per job too (the trick of native miners such as cpuminer's `sha256d_ms`).
 */

/** Bytes of a serialised header (Bitcoin's layout). */
export const HEADER_BYTES = 80;
/** Offset of the 32-bit little-endian time field in a header, bytes. */
export const TIME_OFFSET = 68;
/** Offset of the 32-bit little-endian nonce field in a header, bytes. */
export const NONCE_OFFSET = 76;
/** Number of nonces of one header: the nonce field is 32 bits. */
export const NONCE_SPACE = 2 ** 32;

/** SHA-256 round constants (FIPS 180-4 §4.2.2). */
export const K = Uint32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** SHA-256 initial hash value (FIPS 180-4 §5.3.3). */
export const IV = Uint32Array.from([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

/** Big-endian word 15 of the second header block: the message length, 640 bits. */
export const HEADER_BITS = 640;
/** Big-endian word 15 of the outer block: the message length, 256 bits. */
export const DIGEST_BITS = 256;
/** The padding word that follows the message: a single 1 bit. */
export const PAD_WORD = 0x80000000;

/**
 * Layout of a job (a `Uint32Array`, word offsets), shared with the
 * WebAssembly kernel (`assembly/mining.ts` reads the same offsets).
 */
export const JOB = {
  /** 8 words: the state after the header's first 64 bytes. */
  MIDSTATE: 0,
  /** 8 words: the working variables a..h after rounds 0–2 of the second block. */
  STATE3: 8,
  /** Round 3 with the nonce word W3 left out: a4 = A4 + W3, e4 = E4 + W3. */
  A4: 16,
  E4: 17,
  /** b4, c4, d4 (= a3, b3, c3) and f4, g4, h4 (= e3, f3, g3). */
  B4: 18,
  C4: 19,
  D4: 20,
  F4: 21,
  G4: 22,
  H4: 23,
  /** Schedule words of the second block that do not depend on the nonce. */
  W16: 24,
  W17: 25,
  /** W18 = W18_BASE + σ0(W3); W19 = W19_BASE + W3. */
  W18_BASE: 26,
  W19_BASE: 27,
  /** Most significant 32 bits of the target (bits 224–255): the early-rejection bound. */
  TARGET_TOP: 28,
  /** Words 0–2 of the second block (merkle root tail, time, bits) as big-endian words. */
  W0: 29,
  W1: 30,
  W2: 31,
  /** Size of a job, words. */
  SIZE: 32,
} as const;

/** The largest 256-bit value, the easiest possible target. */
export const MAX_TARGET = (1n << 256n) - 1n;

const rotr = (x: number, n: number): number => (x >>> n) | (x << (32 - n));
/** Σ0 of FIPS 180-4 §4.1.2. */
export const bigSigma0 = (x: number): number => rotr(x, 2) ^ rotr(x, 13) ^ rotr(x, 22);
/** Σ1 of FIPS 180-4 §4.1.2. */
export const bigSigma1 = (x: number): number => rotr(x, 6) ^ rotr(x, 11) ^ rotr(x, 25);
/** σ0 of FIPS 180-4 §4.1.2. */
export const smallSigma0 = (x: number): number => rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3);
/** σ1 of FIPS 180-4 §4.1.2. */
export const smallSigma1 = (x: number): number => rotr(x, 17) ^ rotr(x, 19) ^ (x >>> 10);
const ch = (e: number, f: number, g: number): number => g ^ (e & (f ^ g));
const maj = (a: number, b: number, c: number): number => (a & b) | (c & (a | b));

/** Reverses the bytes of a 32-bit word (little- ↔ big-endian). */
export function bswap32(x: number): number {
  return ((x >>> 24) | ((x >>> 8) & 0xff00) | ((x << 8) & 0xff0000) | (x << 24)) >>> 0;
}

/**
 * One SHA-256 compression of the 16 big-endian words `w[0..15]` into `state`
 * (8 words, updated in place). Reference code for precomputation and checks,
 * not the hot loop. `w` must hold 64 words (the schedule is expanded in it).
 */
export function compress(state: Uint32Array, w: Uint32Array): void {
  for (let t = 16; t < 64; t++) {
    w[t] = smallSigma1(w[t - 2]!) + w[t - 7]! + smallSigma0(w[t - 15]!) + w[t - 16]!;
  }
  let a = state[0]!, b = state[1]!, c = state[2]!, d = state[3]!;
  let e = state[4]!, f = state[5]!, g = state[6]!, h = state[7]!;
  for (let t = 0; t < 64; t++) {
    const t1 = (h + bigSigma1(e) + ch(e, f, g) + K[t]! + w[t]!) | 0;
    const t2 = (bigSigma0(a) + maj(a, b, c)) | 0;
    h = g; g = f; f = e; e = (d + t1) | 0;
    d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  state[0] = state[0]! + a; state[1] = state[1]! + b; state[2] = state[2]! + c; state[3] = state[3]! + d;
  state[4] = state[4]! + e; state[5] = state[5]! + f; state[6] = state[6]! + g; state[7] = state[7]! + h;
}

/** Reads the big-endian 32-bit word at `offset` of `bytes`. */
function readBE(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
}

/**
 * The most significant 32 bits of a target (bits 224–255), the bound every
 * kernel compares word 7 of the digest against before anything else.
 * Targets at or above 2^256 are clamped to the easiest target.
 * @throws RangeError when `target` is negative.
 */
export function targetTopWord(target: bigint): number {
  if (target < 0n) throw new RangeError('target must be non-negative');
  if (target > MAX_TARGET) return 0xffffffff;
  return Number(target >> 224n);
}

/**
 * Precomputes a mining job from an 80-byte header template (its nonce field
 * is ignored) and a target, in the {@link JOB} layout.
 * @throws RangeError when `header` is not 80 bytes or the target is negative.
 */
export function prepareJob(header: Uint8Array, target: bigint): Uint32Array {
  if (header.length !== HEADER_BYTES) throw new RangeError(`header must be ${HEADER_BYTES} bytes, got ${header.length}`);
  const job = new Uint32Array(JOB.SIZE);
  const w = new Uint32Array(64);
  const mid = IV.slice();
  for (let i = 0; i < 16; i++) w[i] = readBE(header, i * 4);
  compress(mid, w);
  job.set(mid, JOB.MIDSTATE);

  const w0 = readBE(header, 64), w1 = readBE(header, 68), w2 = readBE(header, 72);
  let a = mid[0]!, b = mid[1]!, c = mid[2]!, d = mid[3]!;
  let e = mid[4]!, f = mid[5]!, g = mid[6]!, h = mid[7]!;
  const words = [w0, w1, w2];
  for (let t = 0; t < 3; t++) {
    const t1 = (h + bigSigma1(e) + ch(e, f, g) + K[t]! + words[t]!) | 0;
    const t2 = (bigSigma0(a) + maj(a, b, c)) | 0;
    h = g; g = f; f = e; e = (d + t1) | 0;
    d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  job.set([a, b, c, d, e, f, g, h], JOB.STATE3);
  // Round 3 without its message word W3 (the nonce).
  const t1 = (h + bigSigma1(e) + ch(e, f, g) + K[3]!) | 0;
  const t2 = (bigSigma0(a) + maj(a, b, c)) | 0;
  job[JOB.A4] = t1 + t2;
  job[JOB.E4] = d + t1;
  job[JOB.B4] = a; job[JOB.C4] = b; job[JOB.D4] = c;
  job[JOB.F4] = e; job[JOB.G4] = f; job[JOB.H4] = g;
  // Schedule: W4 = PAD_WORD, W5..W14 = 0, W15 = HEADER_BITS.
  const w16 = (smallSigma0(w1) + w0) | 0;
  const w17 = (smallSigma1(HEADER_BITS) + smallSigma0(w2) + w1) | 0;
  job[JOB.W16] = w16;
  job[JOB.W17] = w17;
  job[JOB.W18_BASE] = smallSigma1(w16) + w2;
  job[JOB.W19_BASE] = smallSigma1(w17) + smallSigma0(PAD_WORD);
  job[JOB.TARGET_TOP] = targetTopWord(target);
  job[JOB.W0] = w0; job[JOB.W1] = w1; job[JOB.W2] = w2;
  return job;
}
