import { createPublicKey, verify as nodeVerify, type KeyObject } from 'node:crypto';
import nacl from 'tweetnacl';

/**
 * Ed25519 as one consensus rule (RFC 8032 signatures, cofactorless equation
 * `[S]B = R + [k]A` compared by encoding, as both tweetnacl and OpenSSL do),
 * with three pre-checks applied before either library runs, so that both
 * paths accept exactly the same signatures:
 *  1. lengths: public key 32 bytes, signature 64 bytes (tweetnacl throws on
 *     other lengths);
 *  2. S < L (canonical scalar, RFC 8032 §5.1.7): OpenSSL checks this itself,
 *     tweetnacl does not and accepts S + kL for a valid S — the one
 *     disagreement of the raw libraries the tests found;
 *  3. the public key encodes y < p (canonical) and is not a point of small order
 *     (libsodium's rule; the 8 torsion points would let one signature verify
 *     for many messages, e.g. the identity key with R = [S]B for every message).
 * What needs no pre-check, because both libraries already agree on it:
 *  - R is never decoded, only compared with the canonical encoding of the
 *    computed point, so a non-canonical R (y ≥ p, or x = -0) always fails;
 *  - keys of mixed order (a large-order point plus a torsion point) are
 *    accepted, and both libraries give the same cofactorless answer.
 * tweetnacl makes keys and signatures; `verifySignature` uses Node's native
 * ed25519 (OpenSSL), tens of times faster than tweetnacl (`npm run bench`
 * prints both rates). `test/core/ed25519.test.ts` proves the two agree on
 * edge vectors and 10,000 seeded random cases.
 */
/** Group order L = 2^252 + 27742317777372353535851937790883648493 (RFC 8032 §5.1). */
export const ED25519_L = (1n << 252n) + 27742317777372353535851937790883648493n;
/** Field prime p = 2^255 - 19. */
const P = (1n << 255n) - 19n;

function leToBigInt(bytes: Uint8Array, start: number, end: number): bigint {
  let v = 0n;
  for (let i = end - 1; i >= start; i--) v = (v << 8n) | BigInt(bytes[i]!);
  return v;
}

/**
 * y coordinates (mod p) of the 8 points of small order (the torsion subgroup
 * of order 8): 1 (the identity), p-1 (order 2), 0 (the two points of order
 * 4) and the two y of the four points of order 8 (libsodium's blocklist).
 * `test/core/ed25519.test.ts` derives the subgroup independently and checks
 * this set against it.
 */
export const SMALL_ORDER_Y: ReadonlySet<bigint> = new Set<bigint>([
  0n,
  1n,
  P - 1n,
  leToBigInt(Uint8Array.from(Buffer.from('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', 'hex')), 0, 32),
  leToBigInt(Uint8Array.from(Buffer.from('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', 'hex')), 0, 32),
]);

/** Reasons a signature fails the pre-checks. */
export type SignaturePrecheck = 'ok' | 'bad-length' | 'non-canonical-s' | 'non-canonical-key' | 'small-order-key';

/** The consensus pre-checks shared by both verification paths. */
export function precheckSignature(publicKey: Uint8Array, signature: Uint8Array): SignaturePrecheck {
  if (publicKey.length !== 32 || signature.length !== 64) return 'bad-length';
  if (leToBigInt(signature, 32, 64) >= ED25519_L) return 'non-canonical-s';
  const y = leToBigInt(publicKey, 0, 32) & ((1n << 255n) - 1n);
  if (y >= P) return 'non-canonical-key';
  if (SMALL_ORDER_Y.has(y)) return 'small-order-key';
  return 'ok';
}

/** Reference path: pre-checks then tweetnacl's `sign.detached.verify`. */
export function verifySignatureTweetnacl(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  if (precheckSignature(publicKey, signature) !== 'ok') return false;
  return nacl.sign.detached.verify(message, signature, publicKey);
}

/**
 * The node's verification path: pre-checks then OpenSSL through `node:crypto`.
 * Returns false (never throws) for any malformed input.
 */
export function verifySignature(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  if (precheckSignature(publicKey, signature) !== 'ok') return false;
  try {
    return nodeVerify(null, message, publicKeyObject(publicKey), signature);
  } catch {
    return false;
  }
}

/** Most parsed public keys kept (building a `KeyObject` costs a fifth of a verification, more from DER). */
export const KEY_OBJECT_CACHE_SIZE = 4_096;
const keyObjects = new Map<string, KeyObject>();

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  const hex = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('hex');
  let key = keyObjects.get(hex);
  if (!key) {
    // As a JWK (RFC 8037 OKP key), the raw 32 bytes go to OpenSSL as they are; the same key as SPKI DER
    // goes through OpenSSL 3's decoder framework, about 8 times slower (150 against 20 µs here), which
    // made the import cost more than the verification for every new sender.
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('base64url') }, format: 'jwk' });
    if (keyObjects.size >= KEY_OBJECT_CACHE_SIZE) keyObjects.delete(keyObjects.keys().next().value as string);
    keyObjects.set(hex, key);
  }
  return key;
}

/** A new key pair from tweetnacl: `publicKey` 32 bytes, `secretKey` 64 bytes (seed ‖ public key). */
export function generateKeyPair(): { publicKey: Uint8Array; secretKey: Uint8Array } {
  return nacl.sign.keyPair();
}

/** Key pair from a 32-byte seed. @throws Error when the seed is not 32 bytes. */
export function keyPairFromSeed(seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array } {
  return nacl.sign.keyPair.fromSeed(seed);
}

/** Detached ed25519 signature (64 bytes) with tweetnacl. */
export function sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  return nacl.sign.detached(message, secretKey);
}
