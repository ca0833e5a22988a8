import { deflateSync, inflateSync } from 'node:zlib';
import { COMPRESSED_MARKER_BYTE, EOT_BYTE, MAX_FRAME_BYTES } from './constants.js';

/*
 * Framing of python-p2p-network 1.2 (source document 002): every message is a
 * UTF-8 payload followed by the byte 0x04. A compressed frame is
 * `base64(compressed + "zlib" | "bzip2" | "lzma") + 0x02 + 0x04`.
 *
 * The decoder below is a pure, incremental state machine: bytes in, frames
 * out, no IO (zlib runs synchronously and bounded). It scans each input byte
 * once, checks the size limit before copying bytes into its buffer, and after
 * a message-level error it continues with the next frame.
 */

/**
 * Compression of a frame, named as python-p2p-network's `compression`
 * argument (`NodeConnection.send(data, compression=...)`). Node has no
 * built-in bzip2 or lzma, so only `none` and `zlib` are encoded and decoded;
 * `bzip2` and `lzma` frames are recognised and refused with
 * `unsupported-compression`.
 */
export type Compression = 'none' | 'zlib' | 'bzip2' | 'lzma';

/** Compression of a frame this library can encode and decode. */
export type FrameCompression = 'none' | 'zlib';

/** Suffixes python-p2p-network appends to the compressed bytes before base64 (`NodeConnection.compress`). */
const SUFFIX_ZLIB = Buffer.from('zlib', 'latin1');
const SUFFIX_BZIP2 = Buffer.from('bzip2', 'latin1');
const SUFFIX_LZMA = Buffer.from('lzma', 'latin1');

/**
 * Why a frame was refused.
 *
 * Message-level (the frame is dropped, the decoder continues with the next
 * one): `empty-frame`, `invalid-utf8`, `bad-base64`, `unknown-compression`,
 * `unsupported-compression`, `decompression-failed`, `decompressed-too-large`.
 *
 * Stream-level (the stream is unusable; the decoder refuses all further
 * input): `frame-too-large` (bytes past the limit are never buffered, so the
 * rest of the frame cannot be accounted for) and `truncated-frame` (the stream
 * ended inside a frame).
 */
export type FrameErrorCode =
  | 'frame-too-large'
  | 'truncated-frame'
  | 'empty-frame'
  | 'invalid-utf8'
  | 'bad-base64'
  | 'unknown-compression'
  | 'unsupported-compression'
  | 'decompression-failed'
  | 'decompressed-too-large';

/** True for the codes after which the stream cannot be read any further. */
export function isFatalFrameError(code: FrameErrorCode): boolean {
  switch (code) {
    case 'frame-too-large':
    case 'truncated-frame':
      return true;
    case 'empty-frame':
    case 'invalid-utf8':
    case 'bad-base64':
    case 'unknown-compression':
    case 'unsupported-compression':
    case 'decompression-failed':
    case 'decompressed-too-large':
      return false;
    default:
      return assertNeverCode(code);
  }
}

function assertNeverCode(x: never): never {
  throw new Error(`unexpected frame error code ${JSON.stringify(x)}`);
}

/**
 * A refused frame: `code` is always `ERR_FRAME`, `reason` the kind. `fatal`
 * tells "this stream is unusable" (true) from "reject this message" (false);
 * see {@link FrameErrorCode}.
 */
export class FrameError extends Error {
  override readonly name = 'FrameError';
  readonly code = 'ERR_FRAME';
  readonly fatal: boolean;
  constructor(
    readonly reason: FrameErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.fatal = isFatalFrameError(reason);
  }
}

/** One output of {@link FrameDecoder.push}, in stream order. */
export type FrameResult =
  | {
      type: 'frame';
      /** The payload, UTF-8 decoded (decompressed first when compressed). */
      text: string;
      /** Bytes of the frame on the wire, excluding the 0x04 terminator. */
      wireBytes: number;
      compression: FrameCompression;
    }
  | { type: 'error'; error: FrameError };

/** Options of {@link FrameDecoder}. */
export interface FrameDecoderInit {
  /** Largest frame, bytes (wire bytes and decompressed bytes alike). @default MAX_FRAME_BYTES (4,000,000) */
  maxFrameBytes?: number;
}

/** Buffer capacity kept between frames; a larger buffer is released after its frame, bytes. */
const RETAINED_CAPACITY = 64 * 1024;
/** First allocation of the buffer, bytes. */
const INITIAL_CAPACITY = 1024;

const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Incremental decoder of 0x04-terminated frames.
 *
 * - `push(chunk)` returns every frame completed by `chunk` (and errors, in
 *   order). Each input byte is scanned once: the scan starts where the
 *   previous one stopped, so decoding is linear in the input however it is
 *   split.
 * - A frame whose bytes would exceed `maxFrameBytes` is refused as soon as
 *   the buffered bytes plus the new ones would exceed the limit, before they
 *   are copied (`frame-too-large`, fatal).
 * - Empty frames (a bare 0x04) are refused (`empty-frame`): the original
 *   library blocked forever on them (seeds.md, 002).
 * - Compressed frames are decoded: zlib with the output limited to
 *   `maxFrameBytes` (`zlib.inflateSync` `maxOutputLength`); bzip2 and lzma are
 *   refused with `unsupported-compression`.
 */
export class FrameDecoder {
  private max: number;
  private buf: Buffer = Buffer.alloc(0);
  private len = 0;
  private failure: FrameError | undefined;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

  /** @throws RangeError when `maxFrameBytes` is not a positive integer. */
  constructor(init: FrameDecoderInit = {}) {
    this.max = checkMax(init.maxFrameBytes ?? MAX_FRAME_BYTES);
  }

  /** Largest frame accepted, bytes. */
  get maxFrameBytes(): number {
    return this.max;
  }

  /**
   * Changes the limit (the connection raises it once the handshake is done).
   * A limit below the bytes already buffered applies from the next byte on.
   * @throws RangeError when `n` is not a positive integer.
   */
  set maxFrameBytes(n: number) {
    this.max = checkMax(n);
  }

  /** Bytes of the incomplete frame held right now (never more than `maxFrameBytes`). */
  get bufferedBytes(): number {
    return this.len;
  }

  /** Bytes allocated for the incomplete frame (at most about twice `bufferedBytes`, at least 64 KiB retained). */
  get capacity(): number {
    return this.buf.length;
  }

  /** The fatal error that stopped the decoder, if any. */
  get failed(): FrameError | undefined {
    return this.failure;
  }

  /**
   * Feeds bytes; returns the frames they complete and the errors met, in
   * order. After a fatal error the decoder drops its buffer and returns `[]`
   * for all further input.
   */
  push(chunk: Uint8Array): FrameResult[] {
    const out: FrameResult[] = [];
    if (this.failure) return out;
    const max = this.max;
    let pos = 0;
    while (pos < chunk.length) {
      const eot = chunk.indexOf(EOT_BYTE, pos);
      const end = eot === -1 ? chunk.length : eot;
      const n = end - pos;
      if (this.len + n > max) {
        out.push({ type: 'error', error: this.fail(new FrameError('frame-too-large', `frame exceeds ${max} bytes`)) });
        return out;
      }
      if (eot === -1) {
        this.append(chunk, pos, end);
        break;
      }
      let frame: Uint8Array;
      if (this.len === 0) {
        frame = chunk.subarray(pos, end);
      } else {
        this.append(chunk, pos, end);
        frame = this.buf.subarray(0, this.len);
      }
      out.push(this.finish(frame));
      this.len = 0;
      if (this.buf.length > RETAINED_CAPACITY) this.buf = Buffer.alloc(0);
      pos = eot + 1;
    }
    return out;
  }

  /**
   * Marks the end of the stream: `[]` when it ended between frames, a fatal
   * `truncated-frame` error when bytes of an unfinished frame remain.
   */
  end(): FrameResult[] {
    if (this.failure || this.len === 0) return [];
    const n = this.len;
    return [{ type: 'error', error: this.fail(new FrameError('truncated-frame', `stream ended inside a frame (${n} bytes)`)) }];
  }

  private fail(err: FrameError): FrameError {
    this.failure = err;
    this.buf = Buffer.alloc(0);
    this.len = 0;
    return err;
  }

  /** Copies `chunk[from, to)` after the buffered bytes (the caller checked the limit). Doubling growth keeps appends amortised O(1) per byte. */
  private append(chunk: Uint8Array, from: number, to: number): void {
    const n = to - from;
    if (n === 0) return;
    const need = this.len + n;
    if (need > this.buf.length) {
      let cap = Math.max(INITIAL_CAPACITY, this.buf.length);
      while (cap < need) cap *= 2;
      cap = Math.max(need, Math.min(cap, this.max));
      const next = Buffer.allocUnsafe(cap);
      this.buf.copy(next, 0, 0, this.len);
      this.buf = next;
    }
    this.buf.set(chunk.subarray(from, to), this.len);
    this.len = need;
  }

  /** Turns the bytes of one complete frame into text or a message-level error. */
  private finish(frame: Uint8Array): FrameResult {
    if (frame.length === 0) return { type: 'error', error: new FrameError('empty-frame', 'empty frame (a bare 0x04)') };
    let payload: Uint8Array = frame;
    let compression: FrameCompression = 'none';
    if (frame[frame.length - 1] === COMPRESSED_MARKER_BYTE) {
      const inflated = this.decompress(frame.subarray(0, frame.length - 1));
      if (inflated instanceof FrameError) return { type: 'error', error: inflated };
      payload = inflated;
      compression = 'zlib';
    }
    let text: string;
    try {
      text = this.utf8.decode(payload);
    } catch (err) {
      return { type: 'error', error: new FrameError('invalid-utf8', 'frame is not valid UTF-8', { cause: err }) };
    }
    return { type: 'frame', text, wireBytes: frame.length, compression };
  }

  private decompress(body: Uint8Array): Buffer | FrameError {
    const b64 = Buffer.from(body.buffer, body.byteOffset, body.length).toString('latin1');
    if (!BASE64_PATTERN.test(b64)) return new FrameError('bad-base64', 'compressed frame is not padded base64');
    const raw = Buffer.from(b64, 'base64');
    if (endsWith(raw, SUFFIX_BZIP2)) return new FrameError('unsupported-compression', 'bzip2 frames are not supported (no built-in decoder)');
    if (endsWith(raw, SUFFIX_LZMA)) return new FrameError('unsupported-compression', 'lzma frames are not supported (no built-in decoder)');
    if (!endsWith(raw, SUFFIX_ZLIB)) return new FrameError('unknown-compression', 'compressed frame names no known compression (zlib, bzip2, lzma)');
    try {
      return inflateSync(raw.subarray(0, raw.length - SUFFIX_ZLIB.length), { maxOutputLength: this.max });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        return new FrameError('decompressed-too-large', `decompressed frame exceeds ${this.max} bytes`, { cause: err });
      }
      return new FrameError('decompression-failed', `zlib: ${(err as Error).message}`, { cause: err });
    }
  }
}

function checkMax(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError('options.maxFrameBytes must be a positive integer');
  return n;
}

function endsWith(bytes: Uint8Array, suffix: Uint8Array): boolean {
  if (bytes.length < suffix.length) return false;
  const off = bytes.length - suffix.length;
  for (let i = 0; i < suffix.length; i++) if (bytes[off + i] !== suffix[i]) return false;
  return true;
}

/**
 * Frames a UTF-8 payload: `payload + 0x04`, or with `compression: 'zlib'`
 * python-p2p-network's `base64(zlib(payload) + "zlib") + 0x02 + 0x04`.
 * @throws FrameError `frame-too-large` when the payload or the frame on the
 *   wire exceeds `maxFrameBytes` (the remote would refuse it);
 *   `empty-frame` for an empty payload (never sent).
 *   `unsupported-compression` for `bzip2` and `lzma`.
 * @throws RangeError when the payload contains 0x04, or (uncompressed) ends
 *   with 0x02: it could not be framed. JSON text never does either.
 */
export function encodeFrame(
  payload: string | Uint8Array,
  options: { compression?: Compression; maxFrameBytes?: number } = {},
): Buffer {
  const max = options.maxFrameBytes ?? MAX_FRAME_BYTES;
  const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload.buffer, payload.byteOffset, payload.length);
  if (bytes.length === 0) throw new FrameError('empty-frame', 'refusing to send an empty frame');
  if (bytes.length > max) throw new FrameError('frame-too-large', `payload of ${bytes.length} bytes exceeds ${max}`);
  if (bytes.includes(EOT_BYTE)) throw new RangeError('payload must not contain the byte 0x04 (it terminates frames)');
  let body: Buffer;
  switch (options.compression ?? 'none') {
    case 'none':
      if (bytes[bytes.length - 1] === COMPRESSED_MARKER_BYTE) throw new RangeError('an uncompressed payload must not end with the byte 0x02 (it marks compressed frames)');
      body = bytes;
      break;
    case 'zlib':
      body = Buffer.concat([Buffer.from(Buffer.concat([deflateSync(bytes, { level: 6 }), SUFFIX_ZLIB]).toString('base64'), 'latin1'), Buffer.of(COMPRESSED_MARKER_BYTE)]);
      break;
    case 'bzip2':
    case 'lzma':
      throw new FrameError('unsupported-compression', `${options.compression} compression is not supported (no built-in encoder); use zlib`);
    default:
      throw new RangeError(`unknown compression ${String(options.compression)}`);
  }
  if (body.length > max) throw new FrameError('frame-too-large', `frame of ${body.length} bytes exceeds ${max}`);
  const out = Buffer.allocUnsafe(body.length + 1);
  body.copy(out, 0);
  out[body.length] = EOT_BYTE;
  return out;
}
