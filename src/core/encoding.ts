/**
 * Byte helpers shared by every codec in `src/core`. All integers are written
 * little-endian, as in Bitcoin's serialisation.
 */

/** Error thrown by decoders when bytes or JSON do not have the expected shape. */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  readonly code = 'ERR_DECODE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

const HEX_RE = /^[0-9a-f]*$/;

/** Lower-case hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/**
 * Parses lower-case hex.
 * @param expectedBytes when given, the exact decoded length in bytes.
 * @throws DecodeError on odd length, non-hex characters or a wrong length.
 */
export function fromHex(hex: string, expectedBytes?: number, what = 'hex'): Uint8Array {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !HEX_RE.test(hex)) {
    throw new DecodeError(`${what} must be lower-case hex`);
  }
  if (expectedBytes !== undefined && hex.length !== expectedBytes * 2) {
    throw new DecodeError(`${what} must be ${expectedBytes} bytes (${expectedBytes * 2} hex characters), got ${hex.length / 2}`);
  }
  // Decoded straight into a fresh array of its own (not a slice of Buffer's shared pool), without a second copy.
  const out = new Uint8Array(hex.length / 2);
  Buffer.from(out.buffer, 0, out.length).write(hex, 'hex');
  return out;
}

/** A copy of `bytes` in reverse order (Bitcoin shows hashes byte-reversed). */
export function reversed(bytes: Uint8Array): Uint8Array {
  return Uint8Array.from(bytes).reverse();
}

/** Concatenates byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** True when both arrays hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Sequential little-endian writer into a pre-sized buffer. */
export class ByteWriter {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  offset = 0;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }
  u8(v: number): this {
    this.view.setUint8(this.offset, v);
    this.offset += 1;
    return this;
  }
  u32(v: number): this {
    this.view.setUint32(this.offset, v, true);
    this.offset += 4;
    return this;
  }
  u64(v: bigint): this {
    this.view.setBigUint64(this.offset, v, true);
    this.offset += 8;
    return this;
  }
  raw(b: Uint8Array): this {
    this.bytes.set(b, this.offset);
    this.offset += b.length;
    return this;
  }
}

/**
 * Sequential little-endian reader.
 * @throws DecodeError when a read runs past the end.
 */
export class ByteReader {
  private readonly view: DataView;
  offset = 0;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private need(n: number): void {
    if (this.offset + n > this.bytes.length) throw new DecodeError(`unexpected end of data at byte ${this.offset} (need ${n} more)`);
  }
  get remaining(): number {
    return this.bytes.length - this.offset;
  }
  u8(): number {
    this.need(1);
    return this.view.getUint8(this.offset++);
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.offset, true);
    this.offset += 8;
    return v;
  }
  raw(n: number): Uint8Array {
    this.need(n);
    const out = this.bytes.slice(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
}
