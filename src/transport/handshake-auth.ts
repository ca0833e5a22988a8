import { createPrivateKey, sign as nodeSign, type KeyObject } from 'node:crypto';
import { verifySignature } from '../core/ed25519.js';
import { fromHex, toHex } from '../core/encoding.js';

/*
 * Authenticated node identity in the HELLO/HEY exchange: the idea of
 * python-p2p-network's SecureNode (source document 002: messages signed so
 * that peers can trust who sent them), made part of the handshake.
 *
 * Each side puts its ed25519 public key and a fresh random 32-byte nonce in
 * its HELLO and HEY (`auth`). Each HEY also carries a signature over the
 * handshake transcript: both nonces, both public keys and both node ids, in
 * dialer/acceptor order, with the signer's role. So
 *
 * - a signature is bound to this connection (the other side's fresh nonce):
 *   a recorded one cannot be replayed;
 * - it names both ends (ids and keys): a man in the middle cannot relay one
 *   node's signature to a third node, which would see another key or id for
 *   itself in the transcript;
 * - the role byte stops a signature being reflected back to its signer.
 *
 * A node id of the authenticated form (`ed25519_` + the public key in hex)
 * can only be claimed by a connection whose HEY is signed by that key.
 */

/** Prefix of the authenticated node id form: `ed25519_<64 lower-case hex digits of the public key>`. */
export const AUTHENTICATED_ID_PREFIX = 'ed25519_';
/** The authenticated node id form (72 characters, within `NODE_ID_PATTERN`). */
export const AUTHENTICATED_ID_PATTERN = /^ed25519_[0-9a-f]{64}$/;
/** Domain separation string at the start of every signed transcript (ASCII). */
export const HANDSHAKE_DOMAIN = 'cheesechain/handshake/1';
/** Bytes of a handshake nonce. */
export const HANDSHAKE_NONCE_BYTES = 32;

/** `auth` of a HELLO or HEY on the wire (hex strings). */
export interface HandshakeAuth {
  /** Sender's ed25519 public key, 64 lower-case hex digits. */
  publicKey: string;
  /** Sender's fresh nonce for this connection, 64 lower-case hex digits. */
  nonce: string;
  /** HEY only: ed25519 signature over {@link handshakeTranscript}, 128 lower-case hex digits. */
  signature?: string;
}

/** A node's identity key: ed25519, `secretKey` is tweetnacl's 64 bytes (seed ‖ public key). */
export interface IdentityKey {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

/** True when `nodeId` has the authenticated form, so only the holder of its key may claim it. */
export function isAuthenticatedId(nodeId: string): boolean {
  return AUTHENTICATED_ID_PATTERN.test(nodeId);
}

/** The authenticated node id of a public key: `ed25519_<hex>`. @throws RangeError when the key is not 32 bytes. */
export function authenticatedId(publicKey: Uint8Array): string {
  if (publicKey.length !== 32) throw new RangeError('publicKey must be 32 bytes');
  return AUTHENTICATED_ID_PREFIX + toHex(publicKey);
}

/** The two ends of one connection as the transcript names them. Keys and nonces absent for an unauthenticated side are 32 zero bytes. */
export interface TranscriptInput {
  /** Network id, 64 hex digits (display order, as in HELLO `network`). */
  network: string;
  signer: 'dialer' | 'acceptor';
  dialer: { nodeId: string; publicKey?: string; nonce?: string };
  acceptor: { nodeId: string; publicKey?: string; nonce?: string };
}

const ZERO32 = new Uint8Array(32);

/**
 * The bytes each side signs in its HEY:
 *
 * `"cheesechain/handshake/1" ‖ network (32) ‖ role (1: 0x01 dialer, 0x02 acceptor) ‖
 *  dialer nonce (32) ‖ acceptor nonce (32) ‖ dialer key (32) ‖ acceptor key (32) ‖
 *  len(dialer id) (1) ‖ dialer id ‖ len(acceptor id) (1) ‖ acceptor id`
 *
 * Ids are ASCII; a missing key or nonce is 32 zero bytes.
 * @throws RangeError on malformed hex or an id longer than 255 bytes.
 */
export function handshakeTranscript(t: TranscriptInput): Uint8Array {
  const domain = Buffer.from(HANDSHAKE_DOMAIN, 'latin1');
  const bytes = (hex: string | undefined, what: string) => (hex === undefined ? ZERO32 : fromHex(hex, 32, what));
  const dId = Buffer.from(t.dialer.nodeId, 'latin1');
  const aId = Buffer.from(t.acceptor.nodeId, 'latin1');
  if (dId.length > 255 || aId.length > 255) throw new RangeError('node ids must be at most 255 bytes');
  return Buffer.concat([
    domain,
    fromHex(t.network, 32, 'network'),
    Uint8Array.of(t.signer === 'dialer' ? 1 : 2),
    bytes(t.dialer.nonce, 'dialer nonce'),
    bytes(t.acceptor.nonce, 'acceptor nonce'),
    bytes(t.dialer.publicKey, 'dialer key'),
    bytes(t.acceptor.publicKey, 'acceptor key'),
    Uint8Array.of(dId.length),
    dId,
    Uint8Array.of(aId.length),
    aId,
  ]);
}

/** PKCS#8 DER prefix of an ed25519 private key (RFC 8410): followed by the 32-byte seed. */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * Signs with the identity key. Node's OpenSSL ed25519 (deterministic, RFC 8032),
 * so one handshake costs tens of microseconds, not tweetnacl's milliseconds:
 * a stranger's HELLO must not be an expensive request.
 */
export class IdentitySigner {
  readonly publicKey: Uint8Array;
  readonly publicKeyHex: string;
  private readonly key: KeyObject;

  /** @throws RangeError when the key pair is not 32 + 64 bytes. */
  constructor(identity: IdentityKey) {
    if (identity.publicKey.length !== 32 || identity.secretKey.length !== 64) throw new RangeError('identity must be an ed25519 key pair (32-byte public, 64-byte secret key)');
    this.publicKey = identity.publicKey;
    this.publicKeyHex = toHex(identity.publicKey);
    this.key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, identity.secretKey.subarray(0, 32)]), format: 'der', type: 'pkcs8' });
  }

  /** The 64-byte signature of `message`, hex. */
  sign(message: Uint8Array): string {
    return nodeSign(null, message, this.key).toString('hex');
  }
}

/** Why a remote's `auth` is refused. */
export type AuthFailure = 'missing-auth' | 'missing-signature' | 'bad-signature' | 'key-changed' | 'id-not-key';

/**
 * Checks a remote HEY's signature over the transcript (consensus-grade
 * verification: `verifySignature` of src/core, non-canonical and small-order
 * inputs refused).
 */
export function verifyTranscript(t: TranscriptInput, publicKey: string, signature: string): boolean {
  try {
    return verifySignature(handshakeTranscript(t), fromHex(signature, 64, 'signature'), fromHex(publicKey, 32, 'publicKey'));
  } catch {
    return false;
  }
}
