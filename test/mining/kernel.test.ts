import { readFileSync } from 'node:fs';
import t from 'tap';
import { sha256 } from '@noble/hashes/sha2.js';
import { decodeHeader } from '../../src/core/header.js';
import { NETWORKS } from '../../src/core/params.js';
import { encodeCompact, hashToBigInt } from '../../src/core/pow.js';
import { checkProofOfWork } from '../../src/core/validation.js';
import {
  KERNEL_VARIANTS,
  MiningRangeError,
  NonceScanner,
  availableVariants,
  bestVariant,
  digestNonces,
  kernelChoice,
  scanNonces,
  type KernelVariant,
} from '../../src/mining/kernel.js';
import { nativeUnavailable } from '../../src/mining/kernel-native.js';
import { MAX_TARGET, NONCE_OFFSET } from '../../src/mining/sha256-job.js';

/** Differential runs per variant: random headers, each with a random nonce. */
const DIFFERENTIAL_HEADERS = 100_000;
/** Nonces per header in the differential runs: one per lane of the variant (native: 4 interleaved; wasm-simd: 4 per vector). */
const LANES: Record<KernelVariant, number> = { 'native-sha-ni': 4, 'wasm-simd': 4, ts: 1 };
/** Seeds of the variants' random streams, so a failure can be replayed. */
const SEED: Record<KernelVariant, number> = { 'native-sha-ni': 10, 'wasm-simd': 0, ts: -1 };

/** The CPU announces the SHA extensions (Linux /proc/cpuinfo flag `sha_ni`). */
function cpuHasShaNi(): boolean {
  if (process.arch !== 'x64') return false;
  try {
    return /^flags\s*:.*\bsha_ni\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
}

/** Deterministic xorshift128 so a failure can be replayed. */
function rng(seed: number): () => number {
  let x = seed | 0 || 1, y = 362436069, z = 521288629, w = 88675123;
  return () => {
    const s = x ^ (x << 11);
    x = y; y = z; z = w;
    w = (w ^ (w >>> 19) ^ (s ^ (s >>> 8))) >>> 0;
    return w;
  };
}

function randomHeader(next: () => number): Uint8Array {
  const h = new Uint8Array(80);
  const v = new DataView(h.buffer);
  for (let i = 0; i < 80; i += 4) v.setUint32(i, next());
  return h;
}

function withNonce(header: Uint8Array, nonce: number): Uint8Array {
  const h = header.slice();
  new DataView(h.buffer).setUint32(NONCE_OFFSET, nonce, true);
  return h;
}

/** The reference: @noble/hashes sha256(sha256(header)). */
function reference(header: Uint8Array, nonce: number): Uint8Array {
  return sha256(sha256(withNonce(header, nonce)));
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

t.test('the TypeScript variant is always available, wasm-simd is built, native-sha-ni runs where the CPU has SHA-NI', async (t) => {
  t.ok(availableVariants().includes('ts'));
  t.ok(availableVariants().includes('wasm-simd'), 'npm run build produced dist/wasm/mining-simd.wasm with SIMD');
  const choice = kernelChoice();
  t.equal(choice.variant, bestVariant());
  if (cpuHasShaNi()) {
    t.same(nativeUnavailable(), undefined, 'npm ci / npm run build built build/Release/cheesechain_mining.node');
    t.equal(bestVariant(), 'native-sha-ni');
  } else {
    t.equal(bestVariant(), 'wasm-simd');
    t.match(choice.reason, /native kernel unavailable/);
  }
});

t.test('a missing addon is reported as missing, with its path', async (t) => {
  const path = '/nonexistent/cheesechain_mining.node';
  t.same(nativeUnavailable(path), process.arch === 'x64' ? { reason: 'missing', path } : { reason: 'not-x86', arch: process.arch });
});

for (const variant of KERNEL_VARIANTS) {
  if (!availableVariants().includes(variant)) {
    t.test(`${variant}: unavailable on this machine`, { skip: kernelChoice().reason }, () => {});
    continue;
  }
  t.test(`${variant}: digests equal @noble/hashes sha256d for ${DIFFERENTIAL_HEADERS} random headers and nonces`, async (t) => {
    const next = rng(SEED[variant] + 2);
    const lanes = LANES[variant];
    let mismatches = 0;
    let first = '';
    for (let i = 0; i < DIFFERENTIAL_HEADERS; i++) {
      const header = randomHeader(next);
      // Keep the whole group inside the nonce space.
      const start = next() % (2 ** 32 - lanes);
      const got = digestNonces(header, start, lanes, variant);
      for (let k = 0; k < lanes; k++) {
        if (!equalBytes(got.subarray(k * 32, k * 32 + 32), reference(header, start + k))) {
          mismatches++;
          first ||= `header ${Buffer.from(header).toString('hex')} nonce ${start + k}`;
        }
      }
    }
    t.equal(mismatches, 0, first || 'all digests match');
  });

  t.test(`${variant}: scans find exactly the first nonce at or below a target taken from the range`, async (t) => {
    const next = rng(SEED[variant] + 4);
    let wrong = 0;
    let exact = 0;
    for (let i = 0; i < 1_500; i++) {
      const header = randomHeader(next);
      // Ranges of 1–19 nonces, so every lane position and partial group is exercised.
      const count = 1 + (next() % 19);
      const start = next() % (2 ** 32 - count);
      const values = Array.from({ length: count }, (_, k) => hashToBigInt(reference(header, start + k)));
      const pick = next() % count;
      const target = values[pick]!;
      const expected = values.findIndex((v) => v <= target);
      const got = scanNonces(header, target, start, count, variant);
      if (got.nonce !== start + expected || got.hashes !== expected + 1) wrong++;
      // The minimum of the range: found at target = hash, exhausted at hash − 1.
      const min = values.reduce((a, b) => (b < a ? b : a));
      const minIndex = values.indexOf(min);
      const onTarget = scanNonces(header, min, start, count, variant);
      const below = scanNonces(header, min - 1n, start, count, variant);
      if (onTarget.nonce === start + minIndex && below.nonce === undefined && below.hashes === count) exact++;
      else wrong++;
    }
    t.equal(wrong, 0, 'every scan agrees with the reference');
    t.equal(exact, 1_500, 'a hash exactly on the target is found; one below it is not');
  });

  t.test(`${variant}: every reported nonce passes the core's checkProofOfWork`, async (t) => {
    const next = rng(SEED[variant] + 6);
    const params = NETWORKS.regtest;
    // About one hash in 4096 meets this target.
    const bits = encodeCompact((1n << 244n) - 1n);
    const target = (1n << 244n) - 1n;
    let found = 0;
    for (let i = 0; i < 20; i++) {
      const header = randomHeader(next);
      new DataView(header.buffer).setUint32(72, bits, true);
      const start = next() % 2 ** 31;
      const r = scanNonces(header, target, start, 100_000, variant);
      if (r.nonce === undefined) continue;
      found++;
      const verdict = checkProofOfWork(decodeHeader(withNonce(header, r.nonce)), params);
      t.same(verdict, { ok: true }, `nonce ${r.nonce} passes`);
      // Nothing earlier in the range met the target.
      for (let n = start; n < r.nonce; n++) {
        if (hashToBigInt(reference(header, n)) <= target) {
          t.fail(`nonce ${n} before ${r.nonce} also meets the target`);
          break;
        }
      }
    }
    t.ok(found >= 15, `found solutions for ${found} of 20 headers`);
  });

  t.test(`${variant}: a range where no nonce meets the target is exhausted`, async (t) => {
    const next = rng(7);
    const header = randomHeader(next);
    t.same(scanNonces(header, 0n, 0, 50_000, variant), { nonce: undefined, hashes: 50_000 });
    t.same(scanNonces(header, 1n << 200n, 2 ** 32 - 50_000, 50_000, variant), { nonce: undefined, hashes: 50_000 });
    t.same(scanNonces(header, 0n, 7, 0, variant), { nonce: undefined, hashes: 0 }, 'an empty range');
  });

  t.test(`${variant}: the easiest target accepts the first nonce; the top of the range is reachable`, async (t) => {
    const header = randomHeader(rng(8));
    t.same(scanNonces(header, MAX_TARGET, 123, 10, variant), { nonce: 123, hashes: 1 });
    t.same(scanNonces(header, 1n << 300n, 5, 1, variant), { nonce: 5, hashes: 1 });
    t.same(scanNonces(header, MAX_TARGET, 2 ** 32 - 1, 1, variant), { nonce: 2 ** 32 - 1, hashes: 1 });
  });

  t.test(`${variant}: a scanner reused over consecutive slices equals one scan`, async (t) => {
    const next = rng(9);
    const header = randomHeader(next);
    const target = (1n << 246n) - 1n;
    const whole = scanNonces(header, target, 1_000, 40_000, variant);
    const scanner = new NonceScanner(header, target, variant);
    let hashes = 0;
    let nonce: number | undefined;
    for (let s = 1_000; s < 41_000 && nonce === undefined; s += 4_096) {
      const r = scanner.scan(s, Math.min(4_096, 41_000 - s));
      hashes += r.hashes;
      nonce = r.nonce;
    }
    t.same({ nonce, hashes }, whole);
    t.not(whole.nonce, undefined, 'the target is easy enough to be met in the range');
  });
}

t.test('invalid input is rejected with MiningRangeError', async (t) => {
  const header = new Uint8Array(80);
  const variant: KernelVariant = 'ts';
  t.throws(() => scanNonces(new Uint8Array(79), 1n, 0, 1, variant), MiningRangeError);
  t.throws(() => scanNonces(header, -1n, 0, 1, variant), MiningRangeError);
  t.throws(() => scanNonces(header, 1n, -1, 1, variant), MiningRangeError);
  t.throws(() => scanNonces(header, 1n, 2 ** 32, 1, variant), MiningRangeError);
  t.throws(() => scanNonces(header, 1n, 2 ** 32 - 1, 2, variant), MiningRangeError);
  t.throws(() => scanNonces(header, 1n, 0, 1.5, variant), MiningRangeError);
  t.throws(() => scanNonces(header, 1n, 0, -1, variant), { name: 'MiningRangeError', code: 'ERR_MINING_RANGE' });
});
