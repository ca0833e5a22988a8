/**
 * SHA-256d mining kernel in AssemblyScript with WebAssembly 128-bit SIMD:
 * four nonces per v128 (one per 32-bit lane).
 *
 * The host (`src/mining/kernel-wasm.ts`) writes a job, precomputed by
 * `prepareJob` in `src/mining/sha256-job.ts`, at `jobPtr()` and calls
 * `scan(start, count)`. Per group of four nonces the kernel runs
 *  - rounds 4–63 of the header's second block (the midstate and rounds 0–3
 *    come from the job; schedule words that do not depend on the nonce are
 *    folded in), then
 *  - rounds 0–59 of the outer hash and the T1 half of round 60, which yields
 *    the outer state's e after round 60: the value that rounds 61–63 only
 *    shift into h, i.e. digest word 7, the most significant 32 bits of the
 *    hash as Bitcoin reads it (little-endian).
 * Most groups are rejected on that word alone; the host confirms candidates
 * with a full digest.
 *
 * Rules: FIPS 180-4 (SHA-256); Bitcoin's header layout and hash order.
 */

// Job layout, u32 word offsets: must match JOB in src/mining/sha256-job.ts.
const MIDSTATE: u32 = 0;
const A4: u32 = 16;
const E4: u32 = 17;
const B4: u32 = 18;
const C4: u32 = 19;
const D4: u32 = 20;
const F4: u32 = 21;
const G4: u32 = 22;
const H4: u32 = 23;
const W16: u32 = 24;
const W17: u32 = 25;
const W18_BASE: u32 = 26;
const W19_BASE: u32 = 27;
const TARGET_TOP: u32 = 28;
const JOB_WORDS: u32 = 32;

/** Padding word after the message, and message lengths in bits (FIPS 180-4 §5.1.1). */
const PAD: u32 = 0x80000000;
const HEADER_BITS: u32 = 640;
const DIGEST_BITS: u32 = 256;

/** Digests the debug export `digest` can write per call. */
const DIGEST_BATCH: u32 = 1024;
/** Returned by `scan` when no nonce of the range passes the target's top word. */
const NO_CANDIDATE: i32 = -1;

const IV0: u32 = 0x6a09e667;
const IV1: u32 = 0xbb67ae85;
const IV2: u32 = 0x3c6ef372;
const IV3: u32 = 0xa54ff53a;
const IV4: u32 = 0x510e527f;
const IV5: u32 = 0x9b05688c;
const IV6: u32 = 0x1f83d9ab;
const IV7: u32 = 0x5be0cd19;

const K_PTR: usize = memory.data<u32>([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
], 16);

/** The job, written by the host. */
const JOB_PTR: usize = memory.data(JOB_WORDS * 4, 16);
/** K[t] + W[t] of the rounds whose message word is a constant: 16 words for the second header block, 16 for the outer block. */
const KW_INNER_PTR: usize = memory.data(16 * 4, 16);
const KW_OUTER_PTR: usize = memory.data(16 * 4, 16);
/** Message schedules, 64 v128 each: the second header block and the outer block. */
const W_PTR: usize = memory.data(64 * 16, 16);
const V_PTR: usize = memory.data(64 * 16, 16);
/** Outer working variables a..h before round 60. */
const S_PTR: usize = memory.data(8 * 16, 16);
/** Output of `digest`: 32 bytes per nonce, internal byte order. */
const OUT_PTR: usize = memory.data(DIGEST_BATCH * 32, 16);

@inline function kAt(t: u32): u32 {
  return load<u32>(K_PTR + (<usize>t << 2));
}

// Constant message words of the second header block: W4 = PAD, W15 = 640, others 0.
for (let t: u32 = 0; t < 16; t++) store<u32>(KW_INNER_PTR + (<usize>t << 2), kAt(t));
store<u32>(KW_INNER_PTR + 4 * 4, kAt(4) + PAD);
store<u32>(KW_INNER_PTR + 15 * 4, kAt(15) + HEADER_BITS);
// Constant message words of the outer block: W8 = PAD, W15 = 256, others 0.
for (let t: u32 = 0; t < 16; t++) store<u32>(KW_OUTER_PTR + (<usize>t << 2), kAt(t));
store<u32>(KW_OUTER_PTR + 8 * 4, kAt(8) + PAD);
store<u32>(KW_OUTER_PTR + 15 * 4, kAt(15) + DIGEST_BITS);

/** Byte order of each 32-bit lane reversed (big- ↔ little-endian). */
// prettier-ignore
const BSWAP: v128 = i8x16(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);

// ---- scalar helpers (per-job constants) ----

@inline function sigma0(x: u32): u32 {
  return rotr<u32>(x, 7) ^ rotr<u32>(x, 18) ^ (x >>> 3);
}
@inline function sigma1(x: u32): u32 {
  return rotr<u32>(x, 17) ^ rotr<u32>(x, 19) ^ (x >>> 10);
}
@inline function bigSigma0(x: u32): u32 {
  return rotr<u32>(x, 2) ^ rotr<u32>(x, 13) ^ rotr<u32>(x, 22);
}
@inline function bigSigma1(x: u32): u32 {
  return rotr<u32>(x, 6) ^ rotr<u32>(x, 11) ^ rotr<u32>(x, 25);
}
@inline function jobWord(i: u32): u32 {
  return load<u32>(JOB_PTR + (<usize>i << 2));
}
@inline function splat(x: u32): v128 {
  return i32x4.splat(x);
}

// ---- vector helpers ----

@inline function add(a: v128, b: v128): v128 {
  return i32x4.add(a, b);
}
@inline function rotrV(x: v128, n: i32): v128 {
  return v128.or(i32x4.shr_u(x, n), i32x4.shl(x, 32 - n));
}
@inline function s0(x: v128): v128 {
  return v128.xor(v128.xor(rotrV(x, 7), rotrV(x, 18)), i32x4.shr_u(x, 3));
}
@inline function s1(x: v128): v128 {
  return v128.xor(v128.xor(rotrV(x, 17), rotrV(x, 19)), i32x4.shr_u(x, 10));
}
@inline function S0(x: v128): v128 {
  return v128.xor(v128.xor(rotrV(x, 2), rotrV(x, 13)), rotrV(x, 22));
}
@inline function S1(x: v128): v128 {
  return v128.xor(v128.xor(rotrV(x, 6), rotrV(x, 11)), rotrV(x, 25));
}
/** T1 = h + Σ1(e) + Ch(e, f, g) + K[t] + W[t]. */
@inline function T1(e: v128, f: v128, g: v128, h: v128, kw: v128): v128 {
  return add(add(h, S1(e)), add(v128.bitselect(f, g, e), kw));
}
/** T2 = Σ0(a) + Maj(a, b, c), with Maj = b ^ ((a ^ b) & (b ^ c)) and b ^ c carried from the previous round. */
@inline function T2(a: v128, b: v128, ab: v128, bc: v128): v128 {
  return add(S0(a), v128.xor(b, v128.and(ab, bc)));
}
/** K[t] + W[t] for the second header block's schedule. */
@inline function kwInner(t: u32): v128 {
  return add(v128.load32_splat(K_PTR + (<usize>t << 2)), v128.load(W_PTR + (<usize>t << 4)));
}
@inline function kwOuter(t: u32): v128 {
  return add(v128.load32_splat(K_PTR + (<usize>t << 2)), v128.load(V_PTR + (<usize>t << 4)));
}
@inline function kwConstInner(t: u32): v128 {
  return v128.load32_splat(KW_INNER_PTR + (<usize>t << 2));
}
@inline function kwConstOuter(t: u32): v128 {
  return v128.load32_splat(KW_OUTER_PTR + (<usize>t << 2));
}
@inline function wAt(p: usize, t: u32): v128 {
  return v128.load(p + (<usize>t << 4));
}
@inline function wSet(p: usize, t: u32, v: v128): void {
  v128.store(p + (<usize>t << 4), v);
}
/** W[t] = σ1(W[t−2]) + W[t−7] + σ0(W[t−15]) + W[t−16] for t in [from, to). */
@inline function expand(p: usize, from: u32, to: u32): void {
  for (let t = from; t < to; t++) {
    wSet(p, t, add(add(s1(wAt(p, t - 2)), wAt(p, t - 7)), add(s0(wAt(p, t - 15)), wAt(p, t - 16))));
  }
}

/**
 * Hashes the four nonces whose big-endian words are the lanes of `w3`, up to
 * the outer state before round 60, which it leaves at S_PTR (a..h).
 *
 * Round code: the eight working variables keep their names and the roles
 * rotate, so one round updates only d (d + T1) and h (T1 + T2); the rounds
 * are written out eight at a time.
 */
@inline function hashTo60(w3: v128): void {
  // ---- second block of the header: schedule ----
  const w16 = splat(jobWord(W16));
  const w17 = splat(jobWord(W17));
  const w18 = add(splat(jobWord(W18_BASE)), s0(w3));
  const w19 = add(splat(jobWord(W19_BASE)), w3);
  const w20 = add(s1(w18), splat(PAD));
  const w21 = s1(w19);
  const w22 = add(s1(w20), splat(HEADER_BITS));
  const w23 = add(s1(w21), w16);
  const w24 = add(s1(w22), w17);
  const w25 = add(s1(w23), w18);
  const w26 = add(s1(w24), w19);
  const w27 = add(s1(w25), w20);
  const w28 = add(s1(w26), w21);
  const w29 = add(s1(w27), w22);
  const w30 = add(add(s1(w28), w23), splat(sigma0(HEADER_BITS)));
  const w31 = add(add(s1(w29), w24), splat(sigma0(jobWord(W16)) + HEADER_BITS));
  wSet(W_PTR, 16, w16); wSet(W_PTR, 17, w17); wSet(W_PTR, 18, w18); wSet(W_PTR, 19, w19);
  wSet(W_PTR, 20, w20); wSet(W_PTR, 21, w21); wSet(W_PTR, 22, w22); wSet(W_PTR, 23, w23);
  wSet(W_PTR, 24, w24); wSet(W_PTR, 25, w25); wSet(W_PTR, 26, w26); wSet(W_PTR, 27, w27);
  wSet(W_PTR, 28, w28); wSet(W_PTR, 29, w29); wSet(W_PTR, 30, w30); wSet(W_PTR, 31, w31);
  expand(W_PTR, 32, 64);

  // ---- second block: rounds 4–63 ----
  // Round 4 is at position 4: roles (a..h) = (E, F, G, H, A, B, C, D).
  let E = add(splat(jobWord(A4)), w3);
  let F = splat(jobWord(B4));
  let G = splat(jobWord(C4));
  let H = splat(jobWord(D4));
  let A = add(splat(jobWord(E4)), w3);
  let B = splat(jobWord(F4));
  let C = splat(jobWord(G4));
  let D = splat(jobWord(H4));
  let bc = v128.xor(F, G);
  let x: v128, ab: v128;
  x = T1(A, B, C, D, kwConstInner(4)); H = add(H, x); ab = v128.xor(E, F); D = add(x, T2(E, F, ab, bc)); bc = ab;
  x = T1(H, A, B, C, kwConstInner(5)); G = add(G, x); ab = v128.xor(D, E); C = add(x, T2(D, E, ab, bc)); bc = ab;
  x = T1(G, H, A, B, kwConstInner(6)); F = add(F, x); ab = v128.xor(C, D); B = add(x, T2(C, D, ab, bc)); bc = ab;
  x = T1(F, G, H, A, kwConstInner(7)); E = add(E, x); ab = v128.xor(B, C); A = add(x, T2(B, C, ab, bc)); bc = ab;
  for (let t: u32 = 8; t < 16; t += 8) {
    x = T1(E, F, G, H, kwConstInner(t)); D = add(D, x); ab = v128.xor(A, B); H = add(x, T2(A, B, ab, bc)); bc = ab;
    x = T1(D, E, F, G, kwConstInner(t + 1)); C = add(C, x); ab = v128.xor(H, A); G = add(x, T2(H, A, ab, bc)); bc = ab;
    x = T1(C, D, E, F, kwConstInner(t + 2)); B = add(B, x); ab = v128.xor(G, H); F = add(x, T2(G, H, ab, bc)); bc = ab;
    x = T1(B, C, D, E, kwConstInner(t + 3)); A = add(A, x); ab = v128.xor(F, G); E = add(x, T2(F, G, ab, bc)); bc = ab;
    x = T1(A, B, C, D, kwConstInner(t + 4)); H = add(H, x); ab = v128.xor(E, F); D = add(x, T2(E, F, ab, bc)); bc = ab;
    x = T1(H, A, B, C, kwConstInner(t + 5)); G = add(G, x); ab = v128.xor(D, E); C = add(x, T2(D, E, ab, bc)); bc = ab;
    x = T1(G, H, A, B, kwConstInner(t + 6)); F = add(F, x); ab = v128.xor(C, D); B = add(x, T2(C, D, ab, bc)); bc = ab;
    x = T1(F, G, H, A, kwConstInner(t + 7)); E = add(E, x); ab = v128.xor(B, C); A = add(x, T2(B, C, ab, bc)); bc = ab;
  }
  for (let t: u32 = 16; t < 64; t += 8) {
    x = T1(E, F, G, H, kwInner(t)); D = add(D, x); ab = v128.xor(A, B); H = add(x, T2(A, B, ab, bc)); bc = ab;
    x = T1(D, E, F, G, kwInner(t + 1)); C = add(C, x); ab = v128.xor(H, A); G = add(x, T2(H, A, ab, bc)); bc = ab;
    x = T1(C, D, E, F, kwInner(t + 2)); B = add(B, x); ab = v128.xor(G, H); F = add(x, T2(G, H, ab, bc)); bc = ab;
    x = T1(B, C, D, E, kwInner(t + 3)); A = add(A, x); ab = v128.xor(F, G); E = add(x, T2(F, G, ab, bc)); bc = ab;
    x = T1(A, B, C, D, kwInner(t + 4)); H = add(H, x); ab = v128.xor(E, F); D = add(x, T2(E, F, ab, bc)); bc = ab;
    x = T1(H, A, B, C, kwInner(t + 5)); G = add(G, x); ab = v128.xor(D, E); C = add(x, T2(D, E, ab, bc)); bc = ab;
    x = T1(G, H, A, B, kwInner(t + 6)); F = add(F, x); ab = v128.xor(C, D); B = add(x, T2(C, D, ab, bc)); bc = ab;
    x = T1(F, G, H, A, kwInner(t + 7)); E = add(E, x); ab = v128.xor(B, C); A = add(x, T2(B, C, ab, bc)); bc = ab;
  }
  // Inner digest = midstate + working variables: the outer block's W0..W7.
  const v0 = add(A, splat(jobWord(MIDSTATE)));
  const v1 = add(B, splat(jobWord(MIDSTATE + 1)));
  const v2 = add(C, splat(jobWord(MIDSTATE + 2)));
  const v3 = add(D, splat(jobWord(MIDSTATE + 3)));
  const v4 = add(E, splat(jobWord(MIDSTATE + 4)));
  const v5 = add(F, splat(jobWord(MIDSTATE + 5)));
  const v6 = add(G, splat(jobWord(MIDSTATE + 6)));
  const v7 = add(H, splat(jobWord(MIDSTATE + 7)));

  // ---- outer block: schedule (W8 = PAD, W9..W14 = 0, W15 = 256) ----
  const v16 = add(s0(v1), v0);
  const v17 = add(add(s0(v2), v1), splat(sigma1(DIGEST_BITS)));
  const v18 = add(add(s1(v16), s0(v3)), v2);
  const v19 = add(add(s1(v17), s0(v4)), v3);
  const v20 = add(add(s1(v18), s0(v5)), v4);
  const v21 = add(add(s1(v19), s0(v6)), v5);
  const v22 = add(add(s1(v20), s0(v7)), add(v6, splat(DIGEST_BITS)));
  const v23 = add(add(s1(v21), v16), add(v7, splat(sigma0(PAD))));
  const v24 = add(add(s1(v22), v17), splat(PAD));
  const v25 = add(s1(v23), v18);
  const v26 = add(s1(v24), v19);
  const v27 = add(s1(v25), v20);
  const v28 = add(s1(v26), v21);
  const v29 = add(s1(v27), v22);
  const v30 = add(add(s1(v28), v23), splat(sigma0(DIGEST_BITS)));
  const v31 = add(add(s1(v29), v24), add(s0(v16), splat(DIGEST_BITS)));
  wSet(V_PTR, 0, v0); wSet(V_PTR, 1, v1); wSet(V_PTR, 2, v2); wSet(V_PTR, 3, v3);
  wSet(V_PTR, 4, v4); wSet(V_PTR, 5, v5); wSet(V_PTR, 6, v6); wSet(V_PTR, 7, v7);
  wSet(V_PTR, 16, v16); wSet(V_PTR, 17, v17); wSet(V_PTR, 18, v18); wSet(V_PTR, 19, v19);
  wSet(V_PTR, 20, v20); wSet(V_PTR, 21, v21); wSet(V_PTR, 22, v22); wSet(V_PTR, 23, v23);
  wSet(V_PTR, 24, v24); wSet(V_PTR, 25, v25); wSet(V_PTR, 26, v26); wSet(V_PTR, 27, v27);
  wSet(V_PTR, 28, v28); wSet(V_PTR, 29, v29); wSet(V_PTR, 30, v30); wSet(V_PTR, 31, v31);
  expand(V_PTR, 32, 61);

  // ---- outer block: round 0 from the constant IV, T1 = c0 + W0 ----
  const c0 = IV7 + bigSigma1(IV4) + ((IV4 & IV5) ^ (~IV4 & IV6)) + kAt(0);
  const t20 = bigSigma0(IV0) + ((IV0 & IV1) ^ (IV0 & IV2) ^ (IV1 & IV2));
  x = add(v0, splat(c0));
  A = splat(IV0); B = splat(IV1); C = splat(IV2); D = add(x, splat(IV3));
  E = splat(IV4); F = splat(IV5); G = splat(IV6); H = add(x, splat(t20));
  bc = splat(IV0 ^ IV1);
  // rounds 1–7 (positions 1–7)
  x = T1(D, E, F, G, kwOuter(1)); C = add(C, x); ab = v128.xor(H, A); G = add(x, T2(H, A, ab, bc)); bc = ab;
  x = T1(C, D, E, F, kwOuter(2)); B = add(B, x); ab = v128.xor(G, H); F = add(x, T2(G, H, ab, bc)); bc = ab;
  x = T1(B, C, D, E, kwOuter(3)); A = add(A, x); ab = v128.xor(F, G); E = add(x, T2(F, G, ab, bc)); bc = ab;
  x = T1(A, B, C, D, kwOuter(4)); H = add(H, x); ab = v128.xor(E, F); D = add(x, T2(E, F, ab, bc)); bc = ab;
  x = T1(H, A, B, C, kwOuter(5)); G = add(G, x); ab = v128.xor(D, E); C = add(x, T2(D, E, ab, bc)); bc = ab;
  x = T1(G, H, A, B, kwOuter(6)); F = add(F, x); ab = v128.xor(C, D); B = add(x, T2(C, D, ab, bc)); bc = ab;
  x = T1(F, G, H, A, kwOuter(7)); E = add(E, x); ab = v128.xor(B, C); A = add(x, T2(B, C, ab, bc)); bc = ab;
  for (let t: u32 = 8; t < 16; t += 8) {
    x = T1(E, F, G, H, kwConstOuter(t)); D = add(D, x); ab = v128.xor(A, B); H = add(x, T2(A, B, ab, bc)); bc = ab;
    x = T1(D, E, F, G, kwConstOuter(t + 1)); C = add(C, x); ab = v128.xor(H, A); G = add(x, T2(H, A, ab, bc)); bc = ab;
    x = T1(C, D, E, F, kwConstOuter(t + 2)); B = add(B, x); ab = v128.xor(G, H); F = add(x, T2(G, H, ab, bc)); bc = ab;
    x = T1(B, C, D, E, kwConstOuter(t + 3)); A = add(A, x); ab = v128.xor(F, G); E = add(x, T2(F, G, ab, bc)); bc = ab;
    x = T1(A, B, C, D, kwConstOuter(t + 4)); H = add(H, x); ab = v128.xor(E, F); D = add(x, T2(E, F, ab, bc)); bc = ab;
    x = T1(H, A, B, C, kwConstOuter(t + 5)); G = add(G, x); ab = v128.xor(D, E); C = add(x, T2(D, E, ab, bc)); bc = ab;
    x = T1(G, H, A, B, kwConstOuter(t + 6)); F = add(F, x); ab = v128.xor(C, D); B = add(x, T2(C, D, ab, bc)); bc = ab;
    x = T1(F, G, H, A, kwConstOuter(t + 7)); E = add(E, x); ab = v128.xor(B, C); A = add(x, T2(B, C, ab, bc)); bc = ab;
  }
  for (let t: u32 = 16; t < 56; t += 8) {
    x = T1(E, F, G, H, kwOuter(t)); D = add(D, x); ab = v128.xor(A, B); H = add(x, T2(A, B, ab, bc)); bc = ab;
    x = T1(D, E, F, G, kwOuter(t + 1)); C = add(C, x); ab = v128.xor(H, A); G = add(x, T2(H, A, ab, bc)); bc = ab;
    x = T1(C, D, E, F, kwOuter(t + 2)); B = add(B, x); ab = v128.xor(G, H); F = add(x, T2(G, H, ab, bc)); bc = ab;
    x = T1(B, C, D, E, kwOuter(t + 3)); A = add(A, x); ab = v128.xor(F, G); E = add(x, T2(F, G, ab, bc)); bc = ab;
    x = T1(A, B, C, D, kwOuter(t + 4)); H = add(H, x); ab = v128.xor(E, F); D = add(x, T2(E, F, ab, bc)); bc = ab;
    x = T1(H, A, B, C, kwOuter(t + 5)); G = add(G, x); ab = v128.xor(D, E); C = add(x, T2(D, E, ab, bc)); bc = ab;
    x = T1(G, H, A, B, kwOuter(t + 6)); F = add(F, x); ab = v128.xor(C, D); B = add(x, T2(C, D, ab, bc)); bc = ab;
    x = T1(F, G, H, A, kwOuter(t + 7)); E = add(E, x); ab = v128.xor(B, C); A = add(x, T2(B, C, ab, bc)); bc = ab;
  }
  // rounds 56–59 (positions 0–3)
  x = T1(E, F, G, H, kwOuter(56)); D = add(D, x); ab = v128.xor(A, B); H = add(x, T2(A, B, ab, bc)); bc = ab;
  x = T1(D, E, F, G, kwOuter(57)); C = add(C, x); ab = v128.xor(H, A); G = add(x, T2(H, A, ab, bc)); bc = ab;
  x = T1(C, D, E, F, kwOuter(58)); B = add(B, x); ab = v128.xor(G, H); F = add(x, T2(G, H, ab, bc)); bc = ab;
  x = T1(B, C, D, E, kwOuter(59)); A = add(A, x); ab = v128.xor(F, G); E = add(x, T2(F, G, ab, bc)); bc = ab;
  // Position 4: roles (a..h) = (E, F, G, H, A, B, C, D).
  wSet(S_PTR, 0, E); wSet(S_PTR, 1, F); wSet(S_PTR, 2, G); wSet(S_PTR, 3, H);
  wSet(S_PTR, 4, A); wSet(S_PTR, 5, B); wSet(S_PTR, 6, C); wSet(S_PTR, 7, D);
}

/** Address of the job (JOB_WORDS u32 words) the host fills before `scan` or `digest`. */
export function jobPtr(): usize {
  return JOB_PTR;
}

/** Address of the digests written by `digest`. */
export function outPtr(): usize {
  return OUT_PTR;
}

/** Digests `digest` can write per call. */
export function digestBatch(): u32 {
  return DIGEST_BATCH;
}

/**
 * Scans `count` nonces from `start` (wrapping modulo 2^32) and returns the
 * index of the first whose digest word 7, byte-swapped (the top 32 bits of
 * the hash as Bitcoin reads it), is at or below the job's TARGET_TOP, or −1.
 */
export function scan(start: u32, count: u32): i32 {
  const top = splat(jobWord(TARGET_TOP));
  const kw60 = kAt(60);
  let nonces = add(splat(start), i32x4(0, 1, 2, 3));
  const four = splat(4);
  for (let i: u32 = 0; i < count; i += 4) {
    hashTo60(i8x16.swizzle(nonces, BSWAP));
    // e after round 60 = d + T1(e, f, g, h); digest word 7 = that + IV7.
    const e61 = add(
      wAt(S_PTR, 3),
      T1(wAt(S_PTR, 4), wAt(S_PTR, 5), wAt(S_PTR, 6), wAt(S_PTR, 7), add(splat(kw60), wAt(V_PTR, 60))),
    );
    const top7 = i8x16.swizzle(add(e61, splat(IV7)), BSWAP);
    const pass = i32x4.le_u(top7, top);
    if (v128.any_true(pass)) {
      const index = i + <u32>ctz<i32>(i32x4.bitmask(pass));
      if (index < count) return <i32>index;
    }
    nonces = add(nonces, four);
  }
  return NO_CANDIDATE;
}

/** Stores digest word `j` of four lanes big-endian into four consecutive 32-byte digests at `out`. */
@inline function storeDigestWord(out: usize, j: u32, word: v128): void {
  const v = i8x16.swizzle(word, BSWAP);
  const p = out + (<usize>j << 2);
  store<u32>(p, i32x4.extract_lane(v, 0));
  store<u32>(p + 32, i32x4.extract_lane(v, 1));
  store<u32>(p + 64, i32x4.extract_lane(v, 2));
  store<u32>(p + 96, i32x4.extract_lane(v, 3));
}

/**
 * Writes the full SHA-256d digests (32 bytes each, internal byte order) of
 * `count` nonces from `start` to `outPtr()`; `count` is at most
 * `digestBatch()`. Shares every round up to 59 with `scan`; used to confirm
 * candidates and by the differential tests.
 */
export function digest(start: u32, count: u32): void {
  if (count > DIGEST_BATCH) count = DIGEST_BATCH;
  let nonces = add(splat(start), i32x4(0, 1, 2, 3));
  for (let i: u32 = 0; i < count; i += 4) {
    hashTo60(i8x16.swizzle(nonces, BSWAP));
    expand(V_PTR, 61, 64);
    let a = wAt(S_PTR, 0), b = wAt(S_PTR, 1), c = wAt(S_PTR, 2), d = wAt(S_PTR, 3);
    let e = wAt(S_PTR, 4), f = wAt(S_PTR, 5), g = wAt(S_PTR, 6), h = wAt(S_PTR, 7);
    let bc = v128.xor(b, c);
    for (let t: u32 = 60; t < 64; t++) {
      const x = T1(e, f, g, h, kwOuter(t));
      const ab = v128.xor(a, b);
      const y = add(x, T2(a, b, ab, bc));
      bc = ab;
      h = g; g = f; f = e; e = add(d, x);
      d = c; c = b; b = a; a = y;
    }
    const out = OUT_PTR + (<usize>i << 5);
    storeDigestWord(out, 0, add(a, splat(IV0)));
    storeDigestWord(out, 1, add(b, splat(IV1)));
    storeDigestWord(out, 2, add(c, splat(IV2)));
    storeDigestWord(out, 3, add(d, splat(IV3)));
    storeDigestWord(out, 4, add(e, splat(IV4)));
    storeDigestWord(out, 5, add(f, splat(IV5)));
    storeDigestWord(out, 6, add(g, splat(IV6)));
    storeDigestWord(out, 7, add(h, splat(IV7)));
    nonces = add(nonces, splat(4));
  }
}
