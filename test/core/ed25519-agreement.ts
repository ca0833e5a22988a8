/**
 * The random half of the ed25519 agreement proof: at least
 * 10,000 seeded random cases on which `verifySignature` (pre-checks +
 * OpenSSL) and `verifySignatureTweetnacl` (pre-checks + tweetnacl) must give
 * the same answer.
 *
 * tweetnacl needs several milliseconds per verification, so the
 * {@link AGREEMENT_CASES} cases are split into {@link AGREEMENT_SHARDS} shards
 * by index (case i belongs to shard i mod AGREEMENT_SHARDS), one per test file
 * (`ed25519.test.ts` runs shard 0, `ed25519-agreement-<n>.test.ts` shard n),
 * so that tap runs them in parallel and each file stays well under 30 s.
 * Every case depends only on the seed and its index: replay one with
 * `ED25519_AGREEMENT_SEED=<seed> npx tap dist/test/core/<file>.test.js`.
 */
import { createHash, createPrivateKey, createPublicKey, sign as nodeSign, type KeyObject } from 'node:crypto';
import type { Test } from 'tap';
import { ED25519_L, verifySignature, verifySignatureTweetnacl } from '../../src/core/ed25519.js';

/** Random cases over all shards (at least 10,000: enough that a one-in-a-thousand disagreement shows). */
export const AGREEMENT_CASES = 10_000;
/** Test files the random cases are split over. */
export const AGREEMENT_SHARDS = 5;
/** Default seed; override with the environment variable ED25519_AGREEMENT_SEED. */
export const DEFAULT_AGREEMENT_SEED = 'cheesechain-ed25519-agreement-v1';

/** DER prefixes of RFC 8410 ed25519 keys; the 32 key (or seed) bytes follow. */
export const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** Deterministic byte stream: SHA-256 in counter mode over a seed string. */
export class SeededRandom {
  private counter = 0;
  private pool = Buffer.alloc(0);
  constructor(private readonly seed: string) {}
  bytes(n: number): Uint8Array {
    while (this.pool.length < n) {
      const block = createHash('sha256').update(`${this.seed}/${this.counter++}`).digest();
      this.pool = Buffer.concat([this.pool, block]);
    }
    const out = Uint8Array.from(this.pool.subarray(0, n));
    this.pool = this.pool.subarray(n);
    return out;
  }
  /** Uniform integer in [0, n), n ≤ 2^32. */
  int(n: number): number {
    const b = this.bytes(4);
    return Math.floor(((((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0) / 2 ** 32) * n);
  }
}

/** A copy of `bytes` with bit `bit` (little-endian bit order) flipped. */
export function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

/** 32-byte little-endian encoding of a non-negative integer below 2^256. */
export function scalarToLe(v: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** Private key object from a 32-byte seed, so that OpenSSL signs quickly (tweetnacl signatures are identical: RFC 8032 signing is deterministic). */
function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

function publicKeyBytes(priv: KeyObject): Uint8Array {
  return Uint8Array.from(createPublicKey(priv).export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length));
}

/** The kinds of random case, chosen uniformly per case. */
export const CASE_KINDS = [
  'valid',
  'flip-message-bit',
  'flip-r-bit',
  'flip-s-bit',
  'flip-key-bit',
  'random-key',
  'random-s-below-l',
  'random-signature',
  'other-message-signature',
] as const;
export type CaseKind = (typeof CASE_KINDS)[number];

/** One case and both verdicts; bytes in hex so that a failure prints a replayable vector. */
export interface CaseResult {
  index: number;
  kind: CaseKind;
  node: boolean;
  tweetnacl: boolean;
  message: string;
  signature: string;
  publicKey: string;
}

function assertNeverKind(x: never): never {
  throw new Error(`unexpected case kind ${String(x)}`);
}

/** Builds case `index` of the stream for `seed` and runs both verification paths on it. */
export function runCase(seed: string, index: number): CaseResult {
  const rng = new SeededRandom(`${seed}/${index}`);
  const kind = CASE_KINDS[rng.int(CASE_KINDS.length)]!;
  const priv = privateKeyFromSeed(rng.bytes(32));
  let publicKey: Uint8Array = publicKeyBytes(priv);
  let message: Uint8Array = rng.bytes(rng.int(160));
  let signature: Uint8Array = Uint8Array.from(nodeSign(null, message, priv));
  switch (kind) {
    case 'valid':
      break;
    case 'flip-message-bit':
      message = message.length === 0 ? new Uint8Array(1) : flipBit(message, rng.int(message.length * 8));
      break;
    case 'flip-r-bit':
      signature = flipBit(signature, rng.int(256));
      break;
    case 'flip-s-bit':
      // bits 253..255 always and bit 252 almost always give S ≥ L (pre-check); the rest reach the libraries
      signature = flipBit(signature, 256 + rng.int(256));
      break;
    case 'flip-key-bit':
      publicKey = flipBit(publicKey, rng.int(256));
      break;
    case 'random-key':
      publicKey = rng.bytes(32);
      break;
    case 'random-s-below-l': {
      let s = 0n;
      for (const b of rng.bytes(64)) s = (s << 8n) | BigInt(b);
      signature.set(scalarToLe(s % ED25519_L), 32);
      break;
    }
    case 'random-signature':
      signature = rng.bytes(64);
      break;
    case 'other-message-signature':
      signature = Uint8Array.from(nodeSign(null, rng.bytes(rng.int(160)), priv));
      break;
    default:
      assertNeverKind(kind);
  }
  return {
    index,
    kind,
    node: verifySignature(message, signature, publicKey),
    tweetnacl: verifySignatureTweetnacl(message, signature, publicKey),
    message: Buffer.from(message).toString('hex'),
    signature: Buffer.from(signature).toString('hex'),
    publicKey: Buffer.from(publicKey).toString('hex'),
  };
}

/** Summary of one shard. */
export interface ShardReport {
  cases: number;
  byKind: Partial<Record<CaseKind, { cases: number; accepted: number }>>;
  disagreements: CaseResult[];
}

/** Runs the cases i ≡ shard (mod shards) below total. */
export function runShard(seed: string, shard: number, shards = AGREEMENT_SHARDS, total = AGREEMENT_CASES): ShardReport {
  const report: ShardReport = { cases: 0, byKind: {}, disagreements: [] };
  for (let i = shard; i < total; i += shards) {
    const r = runCase(seed, i);
    report.cases++;
    const k = (report.byKind[r.kind] ??= { cases: 0, accepted: 0 });
    k.cases++;
    if (r.node) k.accepted++;
    if (r.node !== r.tweetnacl) report.disagreements.push(r);
  }
  return report;
}

/** Cases in shard `shard`: the indices i < AGREEMENT_CASES with i mod AGREEMENT_SHARDS = shard. */
export function shardSize(shard: number): number {
  return Math.ceil((AGREEMENT_CASES - shard) / AGREEMENT_SHARDS);
}

/**
 * Registers the tap test of one shard: no disagreement, every valid signature
 * accepted, every kind represented.
 */
export function agreementShardTest(t: Test, shard: number): void {
  const seed = process.env.ED25519_AGREEMENT_SEED ?? DEFAULT_AGREEMENT_SEED;
  t.test(`random cases, shard ${shard + 1} of ${AGREEMENT_SHARDS} (${shardSize(shard)} of ${AGREEMENT_CASES}): both paths accept and reject exactly the same signatures`, async (t) => {
    const started = Date.now();
    const report = runShard(seed, shard);
    t.equal(report.cases, shardSize(shard), 'every case of the shard ran');
    t.same(report.disagreements, [], `no disagreement (seed ${JSON.stringify(seed)})`);
    t.equal(report.byKind.valid?.accepted, report.byKind.valid?.cases, 'every valid signature is accepted');
    t.equal(report.byKind['flip-message-bit']?.accepted, 0, 'no signature survives a flipped message bit');
    t.equal(report.byKind['other-message-signature']?.accepted, 0, 'no signature verifies another message');
    for (const kind of CASE_KINDS) t.ok((report.byKind[kind]?.cases ?? 0) > 100, `kind ${kind} is represented (${report.byKind[kind]?.cases ?? 0} cases)`);
    t.comment(`shard ${shard + 1}: ${JSON.stringify(report.byKind)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
}
