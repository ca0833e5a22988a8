/**
 * Proof of work from compact bits: Bitcoin Core's `arith_uint256_tests`
 * (`bignum_SetCompact`) vectors, targets against powLimit, chain work, and
 * the little-endian reading of the hash.
 */
import t from 'tap';
import { NETWORKS } from '../../src/core/params.js';
import { decodeCompact, encodeCompact, hashMeetsTarget, hashToBigInt, targetFromBits, workFromBits, workFromTarget } from '../../src/core/pow.js';

/**
 * Bitcoin Core `src/test/arith_uint256_tests.cpp`, `bignum_SetCompact`:
 * bits → target (as GetHex), fNegative, fOverflow, and GetCompact of the
 * result (GetCompact(true) for the negative ones, i.e. with the sign bit).
 */
const SET_COMPACT_VECTORS: { bits: number; target: bigint; negative: boolean; overflow: boolean; compact?: number }[] = [
  { bits: 0, target: 0n, negative: false, overflow: false, compact: 0 },
  { bits: 0x00123456, target: 0n, negative: false, overflow: false, compact: 0 },
  { bits: 0x01003456, target: 0n, negative: false, overflow: false, compact: 0 },
  { bits: 0x02000056, target: 0n, negative: false, overflow: false, compact: 0 },
  { bits: 0x03000000, target: 0n, negative: false, overflow: false, compact: 0 },
  { bits: 0x04000000, target: 0n, negative: false, overflow: false, compact: 0 },
  { bits: 0x00923456, target: 0n, negative: false, overflow: false, compact: 0 },
  { bits: 0x01803456, target: 0n, negative: false, overflow: false, compact: 0 },
  { bits: 0x02800056, target: 0n, negative: false, overflow: false, compact: 0 },
  { bits: 0x03800000, target: 0n, negative: false, overflow: false, compact: 0 },
  { bits: 0x04800000, target: 0n, negative: false, overflow: false, compact: 0 },
  { bits: 0x01123456, target: 0x12n, negative: false, overflow: false, compact: 0x01120000 },
  { bits: 0x01fedcba, target: 0x7en, negative: true, overflow: false, compact: 0x01fe0000 },
  { bits: 0x02123456, target: 0x1234n, negative: false, overflow: false, compact: 0x02123400 },
  { bits: 0x03123456, target: 0x123456n, negative: false, overflow: false, compact: 0x03123456 },
  { bits: 0x04123456, target: 0x12345600n, negative: false, overflow: false, compact: 0x04123456 },
  { bits: 0x04923456, target: 0x12345600n, negative: true, overflow: false, compact: 0x04923456 },
  { bits: 0x05009234, target: 0x92340000n, negative: false, overflow: false, compact: 0x05009234 },
  { bits: 0x20123456, target: 0x123456n << 232n, negative: false, overflow: false, compact: 0x20123456 },
  { bits: 0xff123456, target: 0x123456n << BigInt(8 * (0xff - 3)), negative: false, overflow: true },
];

/** GetCompact(true) of Bitcoin: the sign bit of a negative number goes into bit 23. */
const withSign = (compact: number, negative: boolean): number => (negative ? (compact | 0x00800000) >>> 0 : compact);

t.test("decodeCompact matches Bitcoin's SetCompact vectors (value, negative, overflow)", async (t) => {
  for (const v of SET_COMPACT_VECTORS) {
    const d = decodeCompact(v.bits);
    const name = `0x${v.bits.toString(16).padStart(8, '0')}`;
    if (!v.overflow) t.equal(d.target, v.target, `${name}: target`);
    t.equal(d.negative, v.negative, `${name}: negative`);
    t.equal(d.overflow, v.overflow, `${name}: overflow`);
  }
});

t.test("encodeCompact matches Bitcoin's GetCompact, never setting the sign bit", async (t) => {
  for (const v of SET_COMPACT_VECTORS) {
    if (v.compact === undefined) continue;
    t.equal(withSign(encodeCompact(v.target), v.negative), v.compact, `GetCompact of 0x${v.bits.toString(16)}`);
  }
  t.equal(encodeCompact(0x80n), 0x02008000, '0x80 → 0x02008000 (no compact with 0x00800000 set)');
  t.equal(encodeCompact(0xffffn << 208n), 0x1d00ffff, "Bitcoin's powLimit bits");
  t.equal(encodeCompact((1n << 255n) - 1n), 0x207fffff, 'regtest: 2^255 - 1 → 0x207fffff');
  t.throws(() => encodeCompact(-1n), RangeError);
  // Round trip for targets of every size: decode(encode(x)) keeps the top 23 bits.
  for (let bytes = 1; bytes <= 32; bytes++) {
    const x = (1n << BigInt(8 * bytes - 1)) + 12345n;
    const back = decodeCompact(encodeCompact(x));
    t.notOk(back.negative || back.overflow, `${bytes} bytes: a valid compact`);
    t.ok(back.target <= x && x - back.target < x >> 15n || back.target === x, `${bytes} bytes: precision loss only below the top bits`);
    t.equal(encodeCompact(back.target), encodeCompact(x), `${bytes} bytes: encode is stable on its own output`);
  }
});

t.test('targetFromBits refuses negative, overflowing, zero and too-easy bits', async (t) => {
  const limit = NETWORKS.devnet.powLimit;
  t.equal(targetFromBits(0x1d00ffff, limit), 0xffffn << 208n);
  t.equal(targetFromBits(0x04923456, limit), undefined, 'negative');
  t.equal(targetFromBits(0xff123456, limit), undefined, 'overflow');
  t.equal(targetFromBits(0x01003456, limit), undefined, 'zero');
  t.equal(targetFromBits(0, limit), undefined, 'zero bits');
  t.equal(targetFromBits(0x207fffff, limit), undefined, 'easier than powLimit');
  t.equal(targetFromBits(encodeCompact(limit), limit), decodeCompact(encodeCompact(limit)).target, 'the limit itself (as compact) is allowed');
  t.equal(targetFromBits(0x207fffff, NETWORKS.regtest.powLimit), 0x7fffffn << 232n, 'regtest bits on regtest');
  for (const net of Object.values(NETWORKS)) {
    t.ok(targetFromBits(net.genesisBits, net.powLimit), `${net.name}: genesis bits valid`);
  }
});

t.test('workFromBits: expected hashes, 0 for invalid bits', async (t) => {
  t.equal(workFromBits(0x1d00ffff), 0x100010001n, "Bitcoin's genesis work");
  t.equal(workFromBits(0x207fffff), 2n, 'regtest: two hashes per block (Bitcoin regtest genesis chainwork 2)');
  t.equal(workFromBits(0x04923456), 0n, 'negative');
  t.equal(workFromBits(0xff123456), 0n, 'overflow');
  t.equal(workFromBits(0), 0n, 'zero');
  t.equal(workFromTarget(0n), 1n << 256n, 'target 0 would need 2^256 hashes');
  t.equal(workFromTarget((1n << 256n) - 1n), 1n, 'the easiest target: one hash');
  t.ok(workFromBits(NETWORKS.mainnet.genesisBits) > workFromBits(NETWORKS.devnet.genesisBits), 'harder bits, more work');
  t.ok(workFromBits(NETWORKS.devnet.genesisBits) > workFromBits(NETWORKS.regtest.genesisBits));
  // about 2^26 expected hashes on devnet (params.ts)
  const devnetWork = workFromBits(NETWORKS.devnet.genesisBits);
  t.ok(devnetWork >= 1n << 25n && devnetWork <= 1n << 27n, `devnet genesis work ${devnetWork}`);
});

t.test('hashMeetsTarget reads the hash little-endian (byte 31 most significant), ≤ target', async (t) => {
  const hash = new Uint8Array(32);
  hash[31] = 0x01; // 2^248
  t.equal(hashToBigInt(hash), 1n << 248n);
  t.ok(hashMeetsTarget(hash, 1n << 248n), 'equal to the target passes');
  t.notOk(hashMeetsTarget(hash, (1n << 248n) - 1n), 'one above fails');
  const low = new Uint8Array(32);
  low[0] = 0xff; // 255
  t.ok(hashMeetsTarget(low, 255n));
  t.notOk(hashMeetsTarget(low, 254n));
  t.ok(hashMeetsTarget(new Uint8Array(32), 0n), 'zero hash meets target zero');
});
