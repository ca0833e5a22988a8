/**
 * SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
 * 2012): a keyed 64-bit hash, used by compact blocks (BIP 152) for short
 * transaction ids. 64-bit words are kept as pairs of unsigned 32-bit halves
 * so that no BigInt arithmetic runs on the hot path.
 */

/** A SipHash key: k0 and k1 as little-endian 64-bit words, each split into 32-bit halves. */
export interface SipHashKey {
  k0hi: number;
  k0lo: number;
  k1hi: number;
  k1lo: number;
}

/**
 * The key from 16 bytes: k0 = bytes 0–7, k1 = bytes 8–15, both little-endian
 * (the reference implementation's layout).
 * @throws RangeError when `bytes` holds fewer than 16 bytes.
 */
export function sipHashKey(bytes: Uint8Array): SipHashKey {
  if (bytes.length < 16) throw new RangeError(`a SipHash key needs 16 bytes, got ${bytes.length}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, 16);
  return { k0lo: dv.getUint32(0, true), k0hi: dv.getUint32(4, true), k1lo: dv.getUint32(8, true), k1hi: dv.getUint32(12, true) };
}

// The state v0..v3 as 32-bit halves; module-level so the rounds allocate nothing.
let v0h = 0, v0l = 0, v1h = 0, v1l = 0, v2h = 0, v2l = 0, v3h = 0, v3l = 0;

function add64(ah: number, al: number, bh: number, bl: number): [number, number] {
  const lo = (al + bl) >>> 0;
  const hi = (ah + bh + (lo < al ? 1 : 0)) >>> 0;
  return [hi, lo];
}

function sipRound(): void {
  let t: [number, number];
  let h: number, l: number;
  // v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
  t = add64(v0h, v0l, v1h, v1l); v0h = t[0]; v0l = t[1];
  h = ((v1h << 13) | (v1l >>> 19)) >>> 0; l = ((v1l << 13) | (v1h >>> 19)) >>> 0;
  v1h = (h ^ v0h) >>> 0; v1l = (l ^ v0l) >>> 0;
  h = v0h; v0h = v0l; v0l = h;
  // v2 += v3; v3 = rotl(v3, 16); v3 ^= v2
  t = add64(v2h, v2l, v3h, v3l); v2h = t[0]; v2l = t[1];
  h = ((v3h << 16) | (v3l >>> 16)) >>> 0; l = ((v3l << 16) | (v3h >>> 16)) >>> 0;
  v3h = (h ^ v2h) >>> 0; v3l = (l ^ v2l) >>> 0;
  // v0 += v3; v3 = rotl(v3, 21); v3 ^= v0
  t = add64(v0h, v0l, v3h, v3l); v0h = t[0]; v0l = t[1];
  h = ((v3h << 21) | (v3l >>> 11)) >>> 0; l = ((v3l << 21) | (v3h >>> 11)) >>> 0;
  v3h = (h ^ v0h) >>> 0; v3l = (l ^ v0l) >>> 0;
  // v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
  t = add64(v2h, v2l, v1h, v1l); v2h = t[0]; v2l = t[1];
  h = ((v1h << 17) | (v1l >>> 15)) >>> 0; l = ((v1l << 17) | (v1h >>> 15)) >>> 0;
  v1h = (h ^ v2h) >>> 0; v1l = (l ^ v2l) >>> 0;
  h = v2h; v2h = v2l; v2l = h;
}

function absorb(mh: number, ml: number): void {
  v3h = (v3h ^ mh) >>> 0; v3l = (v3l ^ ml) >>> 0;
  sipRound();
  sipRound();
  v0h = (v0h ^ mh) >>> 0; v0l = (v0l ^ ml) >>> 0;
}

/**
 * SipHash-2-4 of `data` under `key`: the 64-bit result as its high and low
 * 32-bit halves (the value is `hi * 2^32 + lo`).
 */
export function sipHash24(key: SipHashKey, data: Uint8Array): { hi: number; lo: number } {
  // "somepseudorandomlygeneratedbytes" xor the key.
  v0h = (0x736f6d65 ^ key.k0hi) >>> 0; v0l = (0x70736575 ^ key.k0lo) >>> 0;
  v1h = (0x646f7261 ^ key.k1hi) >>> 0; v1l = (0x6e646f6d ^ key.k1lo) >>> 0;
  v2h = (0x6c796765 ^ key.k0hi) >>> 0; v2l = (0x6e657261 ^ key.k0lo) >>> 0;
  v3h = (0x74656462 ^ key.k1hi) >>> 0; v3l = (0x79746573 ^ key.k1lo) >>> 0;
  const n = data.length;
  const full = n - (n % 8);
  for (let i = 0; i < full; i += 8) {
    const ml = (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)) >>> 0;
    const mh = (data[i + 4]! | (data[i + 5]! << 8) | (data[i + 6]! << 16) | (data[i + 7]! << 24)) >>> 0;
    absorb(mh, ml);
  }
  // The last word: the remaining bytes, the length mod 256 in the top byte.
  let ml = 0;
  let mh = ((n & 0xff) << 24) >>> 0;
  for (let i = full, s = 0; i < n; i++, s += 8) {
    if (s < 32) ml = (ml | (data[i]! << s)) >>> 0;
    else mh = (mh | (data[i]! << (s - 32))) >>> 0;
  }
  absorb(mh, ml);
  v2l = (v2l ^ 0xff) >>> 0;
  sipRound();
  sipRound();
  sipRound();
  sipRound();
  return { hi: (v0h ^ v1h ^ v2h ^ v3h) >>> 0, lo: (v0l ^ v1l ^ v2l ^ v3l) >>> 0 };
}
