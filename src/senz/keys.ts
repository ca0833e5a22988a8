import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify, constants, type KeyObject } from 'node:crypto';

/*
 * Senz keys and signatures through node:crypto (OpenSSL). Document 000's
 * clients use RSA: PKCS#1 v1.5 signatures over SHA-256 of the signing text
 * (PyCrypto's `PKCS1_v1_5.new(key).sign(SHA256.new(text))`), public keys sent
 * as base64 of their PEM text. cheesechain adds ed25519 (RFC 8032) keys in
 * PEM SPKI form with the same signing text; an ed25519 key is also a chain
 * address, so a coin can be paid to it.
 */

/** Key types a Senz user may register. */
export type SenzKeyType = 'rsa' | 'ed25519';

/** Smallest RSA modulus accepted, bits (the original clients made 1024-bit keys). */
export const MIN_RSA_BITS = 1024;
/** Largest RSA modulus accepted, bits (bounds the cost of one verification). */
export const MAX_RSA_BITS = 4096;
/** RSA modulus made by {@link generateSenzKey}, bits. */
export const DEFAULT_RSA_BITS = 2048;
/** Longest `#pubkey` value accepted (base64 of a PEM), characters. */
export const MAX_PUBKEY_BASE64 = 1200;

/** Why a `#pubkey` value is not a usable key. */
export class SenzKeyError extends Error {
  override readonly name = 'SenzKeyError';
  readonly code = 'ERR_SENZ_KEY';
  readonly reason = 'bad-key';
}

/** A user's public key, parsed once. */
export interface SenzPublicKey {
  type: SenzKeyType;
  key: KeyObject;
  /** The PEM text (SPKI, or PKCS#1 `RSA PUBLIC KEY` as some RSA clients write it). */
  pem: string;
  /** For ed25519: the raw 32-byte public key, hex (the chain address). */
  address?: string;
}

/** A key pair of a Senz client or the switch. */
export interface SenzKeyPair {
  type: SenzKeyType;
  privateKey: KeyObject;
  publicKey: SenzPublicKey;
}

function parseKeyObject(key: KeyObject, pem: string): SenzPublicKey {
  const type = key.asymmetricKeyType;
  if (type === 'ed25519') {
    const der = key.export({ type: 'spki', format: 'der' });
    return { type, key, pem, address: der.subarray(der.length - 32).toString('hex') };
  }
  if (type === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) throw new SenzKeyError(`an RSA key must have ${MIN_RSA_BITS} to ${MAX_RSA_BITS} bits, got ${bits}`);
    return { type, key, pem };
  }
  throw new SenzKeyError(`key type ${String(type)} is not accepted (RSA or ed25519)`);
}

/** Parses PEM text of an RSA or ed25519 public key. @throws SenzKeyError */
export function parsePublicKeyPem(pem: string): SenzPublicKey {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new SenzKeyError(`not a PEM public key: ${(err as Error).message}`);
  }
  return parseKeyObject(key, pem);
}

/**
 * Parses a `#pubkey` value: base64 of the PEM text (document 000).
 * @throws SenzKeyError for bad base64, a bad PEM, or a key that is neither RSA ({@link MIN_RSA_BITS}–{@link MAX_RSA_BITS} bits) nor ed25519.
 */
export function parsePublicKeyBase64(value: string): SenzPublicKey {
  if (value.length > MAX_PUBKEY_BASE64) throw new SenzKeyError(`a #pubkey value has at most ${MAX_PUBKEY_BASE64} characters`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value) || value.length % 4 !== 0) throw new SenzKeyError('#pubkey must be standard base64 of a PEM public key');
  return parsePublicKeyPem(Buffer.from(value, 'base64').toString('latin1'));
}

/** The `#pubkey` value of a key: base64 of its PEM text. */
export function publicKeyBase64(key: SenzPublicKey): string {
  return Buffer.from(key.pem, 'latin1').toString('base64');
}

/**
 * Signs the signing text (ASCII) and returns the signature as base64: RSA
 * PKCS#1 v1.5 with SHA-256, or ed25519.
 */
export function signText(privateKey: KeyObject, text: string): string {
  const data = Buffer.from(text, 'latin1');
  const sig = privateKey.asymmetricKeyType === 'ed25519' ? cryptoSign(null, data, privateKey) : cryptoSign('sha256', data, { key: privateKey, padding: constants.RSA_PKCS1_PADDING });
  return sig.toString('base64');
}

/** Verifies a base64 signature over the signing text; false for any bad input, never throws. */
export function verifyText(publicKey: SenzPublicKey, text: string, signatureBase64: string): boolean {
  const sig = Buffer.from(signatureBase64, 'base64');
  const data = Buffer.from(text, 'latin1');
  try {
    if (publicKey.type === 'ed25519') return sig.length === 64 && cryptoVerify(null, data, publicKey.key, sig);
    return cryptoVerify('sha256', data, { key: publicKey.key, padding: constants.RSA_PKCS1_PADDING }, sig);
  } catch {
    return false;
  }
}

/** Makes a key pair: ed25519, or RSA of `rsaBits` bits (e = 65537). */
export function generateSenzKey(type: SenzKeyType = 'ed25519', rsaBits = DEFAULT_RSA_BITS): SenzKeyPair {
  const pair = type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('rsa', { modulusLength: rsaBits, publicExponent: 65537 });
  const pem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return { type, privateKey: pair.privateKey, publicKey: parseKeyObject(pair.publicKey, pem) };
}

/** PEM (PKCS#8) of a private key, for a key file. */
export function privateKeyPem(pair: SenzKeyPair): string {
  return pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/**
 * A key pair from private-key PEM (PKCS#8, or PKCS#1 `RSA PRIVATE KEY` as
 * the original clients wrote it).
 * @throws SenzKeyError for a bad PEM or an unaccepted key type.
 */
export function keyPairFromPem(pem: string): SenzKeyPair {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new SenzKeyError(`not a PEM private key: ${(err as Error).message}`);
  }
  return pairOf(privateKey);
}

function pairOf(privateKey: KeyObject): SenzKeyPair {
  const pub = createPublicKey(privateKey);
  const publicKey = parseKeyObject(pub, pub.export({ type: 'spki', format: 'pem' }).toString());
  return { type: publicKey.type, privateKey, publicKey };
}

/**
 * The ed25519 key pair of a chain wallet as a Senz key: tweetnacl's 64-byte
 * secret key (seed ‖ public key) wrapped in PKCS#8, so one key signs both
 * Senz messages and transfers.
 */
export function keyPairFromEd25519Seed(seed: Uint8Array): SenzKeyPair {
  if (seed.length !== 32) throw new SenzKeyError('an ed25519 seed has 32 bytes');
  // PKCS#8 prefix of an ed25519 private key (RFC 8410 §7), followed by the 32-byte seed.
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seed)]);
  return pairOf(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
}

/**
 * Appends `^sender` and the signature to a message: `text ^sender sig`, the
 * signature over {@link signingText} of `text ^sender` (document 000).
 */
export function sealSenz(text: string, sender: string, privateKey: KeyObject): string {
  const unsigned = `${text} ^${sender}`;
  return `${unsigned} ${signText(privateKey, unsigned.replace(/[ \t\r\n]+/g, ''))}`;
}
