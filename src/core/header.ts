import { ByteReader, ByteWriter, DecodeError } from './encoding.js';
import { hashFromHex, hashToHex, sha256d } from './hash.js';

/** Size of a serialised header in bytes (Bitcoin's layout). */
export const HEADER_BYTES = 80;

/**
 * A block header, Bitcoin's 80-byte layout: version (u32), prevHash (32),
 * merkleRoot (32), time (u32, seconds), bits (u32, compact target), nonce (u32),
 * all little-endian. Hashes are in internal byte order.
 */
export interface BlockHeader {
  version: number;
  prevHash: Uint8Array;
  merkleRoot: Uint8Array;
  time: number;
  bits: number;
  nonce: number;
}

/** JSON form of a header: hashes in display hex (byte-reversed), integers as numbers. */
export interface HeaderJson {
  version: number;
  prevHash: string;
  merkleRoot: string;
  time: number;
  bits: number;
  nonce: number;
}

/** Serialises a header to its 80 bytes. */
export function encodeHeader(h: BlockHeader): Uint8Array {
  return new ByteWriter(HEADER_BYTES)
    .u32(h.version)
    .raw(h.prevHash)
    .raw(h.merkleRoot)
    .u32(h.time)
    .u32(h.bits)
    .u32(h.nonce).bytes;
}

/** Reads a header from a reader positioned at its first byte. @throws DecodeError when bytes are missing. */
export function readHeader(r: ByteReader): BlockHeader {
  return {
    version: r.u32(),
    prevHash: r.raw(32),
    merkleRoot: r.raw(32),
    time: r.u32(),
    bits: r.u32(),
    nonce: r.u32(),
  };
}

/** Parses exactly 80 bytes. @throws DecodeError on another length. */
export function decodeHeader(bytes: Uint8Array): BlockHeader {
  if (bytes.length !== HEADER_BYTES) throw new DecodeError(`header must be ${HEADER_BYTES} bytes, got ${bytes.length}`);
  return readHeader(new ByteReader(bytes));
}

/** The block hash: SHA-256d of the 80 header bytes, internal byte order. */
export function headerHash(h: BlockHeader): Uint8Array {
  return sha256d(encodeHeader(h));
}

/** The block hash in display hex. */
export function headerHashHex(h: BlockHeader): string {
  return hashToHex(headerHash(h));
}

export function headerToJson(h: BlockHeader): HeaderJson {
  return {
    version: h.version,
    prevHash: hashToHex(h.prevHash),
    merkleRoot: hashToHex(h.merkleRoot),
    time: h.time,
    bits: h.bits,
    nonce: h.nonce,
  };
}

function u32Field(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new DecodeError(`header.${name} must be an integer from 0 to 4294967295`);
  }
  return v;
}

/** Parses the JSON form. @throws DecodeError naming the first bad field. */
export function headerFromJson(j: unknown): BlockHeader {
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new DecodeError('header must be an object');
  const o = j as Record<string, unknown>;
  return {
    version: u32Field(o.version, 'version'),
    prevHash: hashFromHex(o.prevHash as string, 'header.prevHash'),
    merkleRoot: hashFromHex(o.merkleRoot as string, 'header.merkleRoot'),
    time: u32Field(o.time, 'time'),
    bits: u32Field(o.bits, 'bits'),
    nonce: u32Field(o.nonce, 'nonce'),
  };
}
