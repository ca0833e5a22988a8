import { sha256 } from '@noble/hashes/sha2.js';
import { reversed, toHex, fromHex } from './encoding.js';

/**
 * SHA-256d (SHA-256 applied twice), the hash of headers, transactions and
 * merkle nodes, as in Bitcoin. Output: 32 bytes in internal byte order.
 */
export function sha256d(data: Uint8Array): Uint8Array {
  return sha256(sha256(data));
}

/**
 * Display form of a 32-byte hash: hex of the byte-reversed hash, so that the
 * most significant byte (for proof of work) comes first, as Bitcoin shows it.
 */
export function hashToHex(internal: Uint8Array): string {
  return toHex(reversed(internal));
}

/**
 * Inverse of {@link hashToHex}: internal byte order from the display hex.
 * @throws DecodeError when `hex` is not 64 lower-case hex characters.
 */
export function hashFromHex(hex: string, what = 'hash'): Uint8Array {
  return reversed(fromHex(hex, 32, what));
}

/** 32 zero bytes: the prevHash of a genesis block. */
export const ZERO_HASH = new Uint8Array(32);
