/**
 * Benchmark keys and transfers made with OpenSSL: deriving an ed25519 public
 * key with tweetnacl takes milliseconds on this machine, so the thousands of
 * funded senders of the network benchmark are derived through `node:crypto`.
 * RFC 8032 keys and signatures are deterministic: these are the key pairs
 * tweetnacl derives from the same seeds (checked by {@link checkKeyDerivation}),
 * usable with `test/helpers/chain-builder.ts` (`KeyPair`, `transfer`).
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { keyPairFromSeed } from '../../src/core/ed25519.js';
import { bytesEqual } from '../../src/core/encoding.js';
import type { KeyPair } from '../../test/helpers/chain-builder.js';

/** DER prefix of a PKCS#8 ed25519 private key; the 32-byte seed follows (RFC 8410). */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
/** Last byte of every benchmark seed, so they never collide with test seeds. */
const SEED_TAG = 0xb7;

function seedOf(n: number): Uint8Array {
  const seed = new Uint8Array(32);
  new DataView(seed.buffer).setUint32(0, n >>> 0, true);
  seed[31] = SEED_TAG;
  return seed;
}

/** The deterministic key pair number `n`: `publicKey` 32 bytes, `secretKey` 64 bytes (seed ‖ public key, tweetnacl's layout). */
export function benchKey(n: number): KeyPair {
  const seed = seedOf(n);
  const spki = createPublicKey(createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' });
  const publicKey = Uint8Array.from(spki.subarray(spki.length - 32));
  const secretKey = new Uint8Array(64);
  secretKey.set(seed);
  secretKey.set(publicKey, 32);
  return { publicKey, secretKey };
}

/** @throws Error when OpenSSL and tweetnacl derive different public keys from the same seed. */
export function checkKeyDerivation(): void {
  for (const n of [1, 2, 3]) {
    if (!bytesEqual(benchKey(n).publicKey, keyPairFromSeed(seedOf(n)).publicKey)) throw new Error('benchmark: OpenSSL and tweetnacl derive different keys');
  }
}
