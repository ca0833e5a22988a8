/**
 * The pure TypeScript mining kernel: the portable fallback where WebAssembly
 * SIMD is unavailable. Per nonce it runs rounds 4–63 of the second header
 * block (rounds 0–3 come from the job) and rounds 0–60 of the outer hash,
 * which are enough to know word 7 of the digest (rounds 61–63 only shift it
 * from e to h). All arithmetic is 32-bit with `| 0` and `>>> 0`.
 */
import { DIGEST_BITS, HEADER_BITS, IV, JOB, K, PAD_WORD, bswap32 } from './sha256-job.js';

/** Result code of a scan that found no candidate. */
export const NO_CANDIDATE = -1;

const IV0 = IV[0]! | 0, IV1 = IV[1]! | 0, IV2 = IV[2]! | 0, IV3 = IV[3]! | 0;
const IV4 = IV[4]! | 0, IV5 = IV[5]! | 0, IV6 = IV[6]! | 0, IV7 = IV[7]! | 0;
const KI = Int32Array.from(K);

/**
 * Message schedules, one per kernel instance (a worker thread runs one scan
 * at a time, so module-level scratch is safe and keeps the hot loop free of
 * allocation).
 */
const w1 = new Int32Array(64);
const w2 = new Int32Array(64);

/** Loads the nonce-independent words of both schedules for `job`. */
function loadJob(job: Uint32Array): void {
  w1.fill(0);
  w1[0] = job[JOB.W0]!; w1[1] = job[JOB.W1]!; w1[2] = job[JOB.W2]!;
  w1[4] = PAD_WORD; w1[15] = HEADER_BITS;
  w1[16] = job[JOB.W16]!; w1[17] = job[JOB.W17]!;
  w2.fill(0);
  w2[8] = PAD_WORD; w2[15] = DIGEST_BITS;
}

/**
 * Runs the second compression of the header for the big-endian nonce word
 * `wn` and leaves the inner digest in `w2[0..7]`.
 */
function innerHash(job: Uint32Array, wn: number): void {
  const w = w1;
  w[3] = wn;
  for (let t = 18; t < 64; t++) {
    const x = w[t - 2]!, y = w[t - 15]!;
    w[t] = (((x >>> 17) | (x << 15)) ^ ((x >>> 19) | (x << 13)) ^ (x >>> 10))
      + w[t - 7]! + (((y >>> 7) | (y << 25)) ^ ((y >>> 18) | (y << 14)) ^ (y >>> 3)) + w[t - 16]!;
  }
  let a = (job[JOB.A4]! + wn) | 0, b = job[JOB.B4]! | 0, c = job[JOB.C4]! | 0, d = job[JOB.D4]! | 0;
  let e = (job[JOB.E4]! + wn) | 0, f = job[JOB.F4]! | 0, g = job[JOB.G4]! | 0, h = job[JOB.H4]! | 0;
  for (let t = 4; t < 64; t++) {
    const t1 = (h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7)))
      + (g ^ (e & (f ^ g))) + KI[t]! + w[t]!) | 0;
    const t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10)))
      + ((a & b) | (c & (a | b)))) | 0;
    h = g; g = f; f = e; e = (d + t1) | 0;
    d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  const m = job;
  w2[0] = m[JOB.MIDSTATE]! + a; w2[1] = m[JOB.MIDSTATE + 1]! + b;
  w2[2] = m[JOB.MIDSTATE + 2]! + c; w2[3] = m[JOB.MIDSTATE + 3]! + d;
  w2[4] = m[JOB.MIDSTATE + 4]! + e; w2[5] = m[JOB.MIDSTATE + 5]! + f;
  w2[6] = m[JOB.MIDSTATE + 6]! + g; w2[7] = m[JOB.MIDSTATE + 7]! + h;
}

/** Expands the outer schedule up to word `last` (inclusive). */
function outerSchedule(last: number): void {
  const w = w2;
  for (let t = 16; t <= last; t++) {
    const x = w[t - 2]!, y = w[t - 15]!;
    w[t] = (((x >>> 17) | (x << 15)) ^ ((x >>> 19) | (x << 13)) ^ (x >>> 10))
      + w[t - 7]! + (((y >>> 7) | (y << 25)) ^ ((y >>> 18) | (y << 14)) ^ (y >>> 3)) + w[t - 16]!;
  }
}

/**
 * Scans `count` nonces from `startNonce` (wrapping modulo 2^32) and returns
 * the index of the first whose digest word 7, read as Bitcoin reads it
 * (little-endian, the most significant 32 bits), is at or below the job's
 * `TARGET_TOP`, or {@link NO_CANDIDATE}. A candidate still needs the full
 * 256-bit comparison when its top word equals the bound.
 */
export function scanTs(job: Uint32Array, startNonce: number, count: number): number {
  loadJob(job);
  const top = job[JOB.TARGET_TOP]!;
  const w = w2;
  for (let i = 0; i < count; i++) {
    innerHash(job, bswap32((startNonce + i) >>> 0));
    outerSchedule(60);
    let a = IV0, b = IV1, c = IV2, d = IV3, e = IV4, f = IV5, g = IV6, h = IV7;
    for (let t = 0; t < 60; t++) {
      const t1 = (h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7)))
        + (g ^ (e & (f ^ g))) + KI[t]! + w[t]!) | 0;
      const t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10)))
        + ((a & b) | (c & (a | b)))) | 0;
      h = g; g = f; f = e; e = (d + t1) | 0;
      d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    // Round 60's new e becomes h after round 63: digest word 7 = IV7 + e61.
    const e61 = (d + h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7)))
      + (g ^ (e & (f ^ g))) + KI[60]! + w[60]!) | 0;
    if (bswap32((e61 + IV7) | 0) <= top) return i;
  }
  return NO_CANDIDATE;
}

/**
 * The full SHA-256d digest (32 bytes, internal byte order) of the job's
 * header with `nonce`, written to `out` at `offset`. Used to confirm a
 * candidate and by the differential tests.
 */
export function digestTs(job: Uint32Array, nonce: number, out: Uint8Array, offset = 0): void {
  loadJob(job);
  innerHash(job, bswap32(nonce >>> 0));
  outerSchedule(63);
  const w = w2;
  let a = IV0, b = IV1, c = IV2, d = IV3, e = IV4, f = IV5, g = IV6, h = IV7;
  for (let t = 0; t < 64; t++) {
    const t1 = (h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7)))
      + (g ^ (e & (f ^ g))) + KI[t]! + w[t]!) | 0;
    const t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10)))
      + ((a & b) | (c & (a | b)))) | 0;
    h = g; g = f; f = e; e = (d + t1) | 0;
    d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  const words = [a + IV0, b + IV1, c + IV2, d + IV3, e + IV4, f + IV5, g + IV6, h + IV7];
  for (let i = 0; i < 8; i++) {
    const v = words[i]!;
    out[offset + i * 4] = v >>> 24;
    out[offset + i * 4 + 1] = v >>> 16;
    out[offset + i * 4 + 2] = v >>> 8;
    out[offset + i * 4 + 3] = v;
  }
}
