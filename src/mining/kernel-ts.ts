/**
 * The pure TypeScript mining kernel: the portable fallback where WebAssembly
 * SIMD is unavailable. Per nonce it runs rounds 4–63 of the header's second
 * block (the midstate and rounds 0–3 come from the job, see
 * `sha256-job.ts`) and rounds 0–59 of the outer hash plus the T1 half of
 * round 60, which yields digest word 7 (rounds 61–63 only shift it from e to
 * h). All arithmetic is 32-bit with `| 0` and `>>> 0`.
 *
 * The rounds are written out eight at a time with the working variables'
 * roles rotating (round t uses a..h shifted by t mod 8), so a round only
 * writes d and h: no moves, and loop bodies small enough for V8 to optimise.
 */
import { DIGEST_BITS, HEADER_BITS, IV, JOB, K, PAD_WORD, bswap32 } from './sha256-job.js';

/** Result of a scan that found no candidate. */
export const NO_CANDIDATE = -1;

const IV0 = IV[0]! | 0, IV1 = IV[1]! | 0, IV2 = IV[2]! | 0, IV3 = IV[3]! | 0;
const IV4 = IV[4]! | 0, IV5 = IV[5]! | 0, IV6 = IV[6]! | 0, IV7 = IV[7]! | 0;
const KI = Int32Array.from(K);

/**
 * Scratch of this thread's kernel: the two message schedules and the outer
 * state before round 60 (a worker runs one scan at a time, so module-level
 * scratch is safe and keeps the hot loop free of allocation).
 */
const w1 = new Int32Array(64);
const w2 = new Int32Array(64);
const st = new Int32Array(8);

/** Loads the nonce-independent words of both schedules for `job`. */
function loadJob(job: Uint32Array): void {
  w1.fill(0);
  w1[0] = job[JOB.W0]!; w1[1] = job[JOB.W1]!; w1[2] = job[JOB.W2]!;
  w1[4] = PAD_WORD; w1[15] = HEADER_BITS;
  w1[16] = job[JOB.W16]!; w1[17] = job[JOB.W17]!;
  w2.fill(0);
  w2[8] = PAD_WORD; w2[15] = DIGEST_BITS;
}

/** W[t] = σ1(W[t−2]) + W[t−7] + σ0(W[t−15]) + W[t−16] for t in [from, to). */
function expand(w: Int32Array, from: number, to: number): void {
  for (let t = from; t < to; t++) {
    const x = w[t - 2]!, y = w[t - 15]!;
    w[t] = ((((x >>> 17) | (x << 15)) ^ ((x >>> 19) | (x << 13)) ^ (x >>> 10))
      + w[t - 7]! + (((y >>> 7) | (y << 25)) ^ ((y >>> 18) | (y << 14)) ^ (y >>> 3)) + w[t - 16]!) | 0;
  }
}

/**
 * Rounds 4–63 of the header's second block for the big-endian nonce word
 * `wn`; leaves the inner digest (the outer block's W0..W7) in `w2[0..7]`.
 */
function innerHash(job: Uint32Array, wn: number): void {
  const w = w1;
  w[3] = wn;
  w[18] = (job[JOB.W18_BASE]! + (((wn >>> 7) | (wn << 25)) ^ ((wn >>> 18) | (wn << 14)) ^ (wn >>> 3))) | 0;
  w[19] = (job[JOB.W19_BASE]! + wn) | 0;
  expand(w, 20, 64);
  // Round 4 is at position 4: the role of a is held by e, b by f, … (see the file comment).
  let e = (job[JOB.A4]! + wn) | 0, f = job[JOB.B4]! | 0, g = job[JOB.C4]! | 0, h = job[JOB.D4]! | 0;
  let a = (job[JOB.E4]! + wn) | 0, b = job[JOB.F4]! | 0, c = job[JOB.G4]! | 0, d = job[JOB.H4]! | 0;
  let x: number;
    x = (d + (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7))) + (c ^ (a & (b ^ c))) + KI[4]! + w[4]!) | 0;
    h = (h + x) | 0;
    d = (x + ((((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))) + ((e & f) | (g & (e | f))))) | 0;
    x = (c + (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7))) + (b ^ (h & (a ^ b))) + KI[5]! + w[5]!) | 0;
    g = (g + x) | 0;
    c = (x + ((((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) + ((d & e) | (f & (d | e))))) | 0;
    x = (b + (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7))) + (a ^ (g & (h ^ a))) + KI[6]! + w[6]!) | 0;
    f = (f + x) | 0;
    b = (x + ((((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))) + ((c & d) | (e & (c | d))))) | 0;
    x = (a + (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7))) + (h ^ (f & (g ^ h))) + KI[7]! + w[7]!) | 0;
    e = (e + x) | 0;
    a = (x + ((((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))) + ((b & c) | (d & (b | c))))) | 0;
  for (let t = 8; t < 64; t += 8) {
      x = (h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + (g ^ (e & (f ^ g))) + KI[t]! + w[t]!) | 0;
      d = (d + x) | 0;
      h = (x + ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & b) | (c & (a | b))))) | 0;
      x = (g + (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7))) + (f ^ (d & (e ^ f))) + KI[t + 1]! + w[t + 1]!) | 0;
      c = (c + x) | 0;
      g = (x + ((((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))) + ((h & a) | (b & (h | a))))) | 0;
      x = (f + (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7))) + (e ^ (c & (d ^ e))) + KI[t + 2]! + w[t + 2]!) | 0;
      b = (b + x) | 0;
      f = (x + ((((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))) + ((g & h) | (a & (g | h))))) | 0;
      x = (e + (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7))) + (d ^ (b & (c ^ d))) + KI[t + 3]! + w[t + 3]!) | 0;
      a = (a + x) | 0;
      e = (x + ((((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))) + ((f & g) | (h & (f | g))))) | 0;
      x = (d + (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7))) + (c ^ (a & (b ^ c))) + KI[t + 4]! + w[t + 4]!) | 0;
      h = (h + x) | 0;
      d = (x + ((((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))) + ((e & f) | (g & (e | f))))) | 0;
      x = (c + (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7))) + (b ^ (h & (a ^ b))) + KI[t + 5]! + w[t + 5]!) | 0;
      g = (g + x) | 0;
      c = (x + ((((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) + ((d & e) | (f & (d | e))))) | 0;
      x = (b + (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7))) + (a ^ (g & (h ^ a))) + KI[t + 6]! + w[t + 6]!) | 0;
      f = (f + x) | 0;
      b = (x + ((((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))) + ((c & d) | (e & (c | d))))) | 0;
      x = (a + (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7))) + (h ^ (f & (g ^ h))) + KI[t + 7]! + w[t + 7]!) | 0;
      e = (e + x) | 0;
      a = (x + ((((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))) + ((b & c) | (d & (b | c))))) | 0;
  }
  const m = JOB.MIDSTATE;
  w2[0] = job[m]! + a; w2[1] = job[m + 1]! + b; w2[2] = job[m + 2]! + c; w2[3] = job[m + 3]! + d;
  w2[4] = job[m + 4]! + e; w2[5] = job[m + 5]! + f; w2[6] = job[m + 6]! + g; w2[7] = job[m + 7]! + h;
}

/** Rounds 0–59 of the outer block (schedule up to W60); leaves a..h before round 60 in `st`. */
function outerTo60(): void {
  const w = w2;
  expand(w, 16, 61);
  let a = IV0, b = IV1, c = IV2, d = IV3, e = IV4, f = IV5, g = IV6, h = IV7;
  let x: number;
  for (let t = 0; t < 56; t += 8) {
      x = (h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + (g ^ (e & (f ^ g))) + KI[t]! + w[t]!) | 0;
      d = (d + x) | 0;
      h = (x + ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & b) | (c & (a | b))))) | 0;
      x = (g + (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7))) + (f ^ (d & (e ^ f))) + KI[t + 1]! + w[t + 1]!) | 0;
      c = (c + x) | 0;
      g = (x + ((((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))) + ((h & a) | (b & (h | a))))) | 0;
      x = (f + (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7))) + (e ^ (c & (d ^ e))) + KI[t + 2]! + w[t + 2]!) | 0;
      b = (b + x) | 0;
      f = (x + ((((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))) + ((g & h) | (a & (g | h))))) | 0;
      x = (e + (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7))) + (d ^ (b & (c ^ d))) + KI[t + 3]! + w[t + 3]!) | 0;
      a = (a + x) | 0;
      e = (x + ((((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))) + ((f & g) | (h & (f | g))))) | 0;
      x = (d + (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7))) + (c ^ (a & (b ^ c))) + KI[t + 4]! + w[t + 4]!) | 0;
      h = (h + x) | 0;
      d = (x + ((((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))) + ((e & f) | (g & (e | f))))) | 0;
      x = (c + (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7))) + (b ^ (h & (a ^ b))) + KI[t + 5]! + w[t + 5]!) | 0;
      g = (g + x) | 0;
      c = (x + ((((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) + ((d & e) | (f & (d | e))))) | 0;
      x = (b + (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7))) + (a ^ (g & (h ^ a))) + KI[t + 6]! + w[t + 6]!) | 0;
      f = (f + x) | 0;
      b = (x + ((((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))) + ((c & d) | (e & (c | d))))) | 0;
      x = (a + (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7))) + (h ^ (f & (g ^ h))) + KI[t + 7]! + w[t + 7]!) | 0;
      e = (e + x) | 0;
      a = (x + ((((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))) + ((b & c) | (d & (b | c))))) | 0;
  }
    x = (h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + (g ^ (e & (f ^ g))) + KI[56]! + w[56]!) | 0;
    d = (d + x) | 0;
    h = (x + ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & b) | (c & (a | b))))) | 0;
    x = (g + (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7))) + (f ^ (d & (e ^ f))) + KI[57]! + w[57]!) | 0;
    c = (c + x) | 0;
    g = (x + ((((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))) + ((h & a) | (b & (h | a))))) | 0;
    x = (f + (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7))) + (e ^ (c & (d ^ e))) + KI[58]! + w[58]!) | 0;
    b = (b + x) | 0;
    f = (x + ((((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))) + ((g & h) | (a & (g | h))))) | 0;
    x = (e + (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7))) + (d ^ (b & (c ^ d))) + KI[59]! + w[59]!) | 0;
    a = (a + x) | 0;
    e = (x + ((((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))) + ((f & g) | (h & (f | g))))) | 0;
  // Round 60 is at position 4: role a is held by e, b by f, …, e by a, …, h by d.
  st[0] = e; st[1] = f; st[2] = g; st[3] = h; st[4] = a; st[5] = b; st[6] = c; st[7] = d;
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
  const kw60 = KI[60]!;
  for (let i = 0; i < count; i++) {
    innerHash(job, bswap32((startNonce + i) >>> 0));
    outerTo60();
    // e after round 60 = d + T1(e, f, g, h); it becomes h after round 63, so digest word 7 = IV7 + it.
    const e = st[4]!, f = st[5]!, g = st[6]!;
    const e61 = (st[3]! + st[7]! + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7)))
      + (g ^ (e & (f ^ g))) + kw60 + w2[60]!) | 0;
    if (bswap32((e61 + IV7) | 0) <= top) return i;
  }
  return NO_CANDIDATE;
}

/**
 * The full SHA-256d digest (32 bytes, internal byte order) of the job's
 * header with `nonce`, written to `out` at `offset`. Shares every round up
 * to 59 with {@link scanTs}; used by the differential tests.
 */
export function digestTs(job: Uint32Array, nonce: number, out: Uint8Array, offset = 0): void {
  loadJob(job);
  innerHash(job, bswap32(nonce >>> 0));
  outerTo60();
  expand(w2, 61, 64);
  let a = st[0]!, b = st[1]!, c = st[2]!, d = st[3]!, e = st[4]!, f = st[5]!, g = st[6]!, h = st[7]!;
  for (let t = 60; t < 64; t++) {
    const t1 = (h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7)))
      + (g ^ (e & (f ^ g))) + KI[t]! + w2[t]!) | 0;
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
