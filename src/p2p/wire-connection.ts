import type { Socket } from 'node:net';
import { CLOSE_LINGER_MS, EOT_BYTE, MAX_FRAME_BYTES, MAX_PORT, NODE_ID_PATTERN } from './constants.js';
import { FrameDecoder, encodeFrame, type Compression, type FrameError, type FrameResult } from './framing.js';
import { idLine, parseIdLine, parseIdReply } from './id-exchange.js';

/*
 * One TCP connection speaking the wire of python-p2p-network 1.2 (source
 * document 002): the id exchange, then 0x04-terminated frames. This is the
 * only implementation of that wire in cheesechain: the library's
 * `NodeConnection` and the cheesechain transport's `PeerConnection` both
 * drive a `WireConnection` and put their own message layer on top.
 *
 * It owns the socket: reads go through the frame decoder (limits checked
 * before buffering), writes are counted, and a close flushes for at most
 * `closeLingerMs` before the socket is destroyed. It decides nothing about
 * the remote: every event goes to its {@link WireHandler}.
 */

/** Which side dialled. */
export type Direction = 'inbound' | 'outbound';

/** Phases of the wire, in order. */
export type WirePhase = 'id-exchange' | 'open' | 'closing' | 'closed';

/** A complete, decoded frame. */
export type Frame = Extract<FrameResult, { type: 'frame' }>;

/**
 * What the owner of a {@link WireConnection} is told. Calls are never made
 * from the constructor; none is made after `onClose`.
 */
export interface WireHandler {
  /**
   * The id exchange completed: `remotePort` is the port of the dialer's id
   * line (inbound) or undefined (outbound: the acceptor's bare id has none).
   * Inbound, our bare id has already been written.
   */
  onIdExchanged(remoteNodeId: string, remotePort: number | undefined): void;
  /** The remote's id line or id reply is not one of document 002 (nothing has been sent back). */
  onIdError(message: string): void;
  /** One frame, in stream order. */
  onFrame(frame: Frame): void;
  /** A refused frame; `error.fatal` tells whether the stream can still be read. */
  onFrameError(error: FrameError): void;
  /** The remote closed its side; `truncated` when it did so inside a frame. */
  onRemoteEnd(truncated: FrameError | undefined): void;
  /** A socket error (a reset, for example); `onClose` follows. */
  onSocketError(error: Error): void;
  /** The socket closed. Exactly once. */
  onClose(): void;
}

/** Options of a {@link WireConnection}. */
export interface WireConnectionInit {
  /** A connected socket; the wire owns it from now on. */
  socket: Socket;
  direction: Direction;
  /** Our node id ({@link NODE_ID_PATTERN}). */
  nodeId: string;
  /** Port we listen on, sent in the id line when dialling; 0 when not listening. */
  listenPort: number;
  handler: WireHandler;
  /** Largest frame sent and accepted, bytes; the owner may lower or raise the receive limit later with {@link WireConnection.maxFrameBytes}. @default MAX_FRAME_BYTES (4,000,000) */
  maxFrameBytes?: number;
  /** @default CLOSE_LINGER_MS (1000) */
  closeLingerMs?: number;
  /**
   * Inbound only: how long frames sent after our id reply are held back
   * unless the dialer speaks first, ms (see `ID_REPLY_HOLD_MS`). @default 0
   */
  holdAfterIdReplyMs?: number;
  /** Bytes already read from the socket (by a protocol sniffer on a shared port); processed first. */
  initialBytes?: Buffer;
}

/** Counters of one wire connection: bytes in both directions (id exchange included), frames, and the most bytes of an incomplete frame ever held. */
export interface WireCounters {
  bytesReceived: number;
  bytesSent: number;
  framesReceived: number;
  framesSent: number;
  receiveBufferPeakBytes: number;
}

/** The python-p2p-network wire over one socket; see the module comment. */
export class WireConnection {
  readonly direction: Direction;
  /** IP address of the remote end of the socket. */
  readonly remoteAddress: string;
  /** TCP port of the remote end of the socket (not its listen port). */
  readonly remotePort: number;
  /** Our node id. */
  readonly nodeId: string;

  private readonly socket: Socket;
  private readonly handler: WireHandler;
  private readonly decoder: FrameDecoder;
  private readonly lingerMs: number;
  private phaseValue: WirePhase = 'id-exchange';
  private idBuf: Buffer = Buffer.alloc(0);
  private remoteId: string | undefined;
  private remoteListen: number | undefined;
  private held: Buffer[] | undefined;
  private holdTimer: NodeJS.Timeout | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  private readonly holdMs: number;
  private readonly sendMax: number;
  private readonly stats: WireCounters = { bytesReceived: 0, bytesSent: 0, framesReceived: 0, framesSent: 0, receiveBufferPeakBytes: 0 };

  /** @throws RangeError when `nodeId` or `listenPort` is invalid (the message names the option). */
  constructor(init: WireConnectionInit) {
    if (!NODE_ID_PATTERN.test(init.nodeId)) throw new RangeError('options.nodeId must be 1 to 128 characters of [A-Za-z0-9_-]');
    if (!Number.isInteger(init.listenPort) || init.listenPort < 0 || init.listenPort > MAX_PORT) {
      throw new RangeError(`options.listenPort must be an integer from 0 to ${MAX_PORT}`);
    }
    this.socket = init.socket;
    this.handler = init.handler;
    this.direction = init.direction;
    this.nodeId = init.nodeId;
    this.lingerMs = init.closeLingerMs ?? CLOSE_LINGER_MS;
    this.holdMs = init.holdAfterIdReplyMs ?? 0;
    this.remoteAddress = init.socket.remoteAddress ?? '';
    this.remotePort = init.socket.remotePort ?? 0;
    this.sendMax = init.maxFrameBytes ?? MAX_FRAME_BYTES;
    this.decoder = new FrameDecoder({ maxFrameBytes: this.sendMax });
    const socket = this.socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', (err) => this.handler.onSocketError(err));
    socket.on('close', () => this.onClose());
    // A socket a protocol sniffer paused (a shared port) flows again from here.
    socket.resume();
    if (socket.destroyed) {
      queueMicrotask(() => this.onClose());
      return;
    }
    if (this.direction === 'outbound') this.writeRaw(idLine(init.nodeId, init.listenPort));
    const initial = init.initialBytes;
    if (initial && initial.length > 0) queueMicrotask(() => this.onData(initial));
  }

  get phase(): WirePhase {
    return this.phaseValue;
  }

  /** The remote's node id from the id exchange (undefined before it). */
  get remoteNodeId(): string | undefined {
    return this.remoteId;
  }

  /** The port of the dialer's id line (inbound; undefined outbound or before the exchange). */
  get remoteIdLinePort(): number | undefined {
    return this.remoteListen;
  }

  /** Largest frame accepted from now on, bytes (frames sent keep the limit of the options). @throws RangeError when set to anything but a positive integer. */
  get maxFrameBytes(): number {
    return this.decoder.maxFrameBytes;
  }

  set maxFrameBytes(n: number) {
    this.decoder.maxFrameBytes = n;
  }

  get counters(): Readonly<WireCounters> {
    return { ...this.stats };
  }

  /** Bytes queued in the socket (and held after the id reply), not yet handed to the kernel. */
  get sendBufferedBytes(): number {
    let n = this.socket.writableLength;
    if (this.held) for (const b of this.held) n += b.length;
    return n;
  }

  /** Bytes of an incomplete frame held by the decoder (never more than the frame limit). */
  get receiveBufferedBytes(): number {
    return this.decoder.bufferedBytes;
  }

  /** Whether the socket is above its high-water mark. */
  get writableNeedDrain(): boolean {
    return this.socket.writableNeedDrain;
  }

  /**
   * Frames and sends a payload (`payload + 0x04`, or a compressed frame).
   * Returns false when the socket is above its high-water mark (await
   * {@link drain}) or when the wire is closed (the frame is dropped).
   * @throws FrameError `frame-too-large`, `empty-frame`, `unsupported-compression` (see `encodeFrame`).
   * @throws RangeError when the payload cannot be framed (contains 0x04).
   */
  sendFrame(payload: string | Uint8Array, compression: Compression = 'none'): boolean {
    return this.sendEncoded(encodeFrame(payload, { compression, maxFrameBytes: this.sendMax }));
  }

  /** Sends an already encoded frame (see `encodeFrame`); counted as one frame. */
  sendEncoded(frame: Buffer): boolean {
    if (this.phaseValue === 'closed' || this.socket.destroyed || this.socket.writableEnded) return false;
    this.stats.framesSent++;
    if (this.held) {
      this.held.push(frame);
      return true;
    }
    return this.writeRaw(frame);
  }

  /** Resolves when the send buffer has drained below the high-water mark, at once when it already has, or when the socket closes. */
  drain(): Promise<void> {
    if (!this.socket.writableNeedDrain || this.phaseValue === 'closed') return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  /**
   * Ends the connection gracefully: held and pending writes are flushed for
   * at most `closeLingerMs`, then the socket is destroyed. Bytes that arrive
   * meanwhile are ignored. Idempotent.
   */
  end(): void {
    if (this.phaseValue === 'closing' || this.phaseValue === 'closed') return;
    this.phaseValue = 'closing';
    this.releaseHeld();
    this.socket.end();
    this.lingerTimer = setTimeout(() => this.socket.destroy(), this.lingerMs);
    this.lingerTimer.unref();
  }

  /** Destroys the socket at once (pending writes are lost). */
  destroy(): void {
    this.socket.destroy();
  }

  private writeRaw(bytes: Buffer): boolean {
    if (this.socket.destroyed || this.socket.writableEnded) return false;
    this.stats.bytesSent += bytes.length;
    return this.socket.write(bytes);
  }

  private releaseHeld(): void {
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    const held = this.held;
    this.held = undefined;
    if (held) for (const b of held) this.writeRaw(b);
  }

  private onData(chunk: Buffer): void {
    if (this.phaseValue === 'closing' || this.phaseValue === 'closed') return;
    this.stats.bytesReceived += chunk.length;
    if (this.phaseValue === 'id-exchange') {
      const rest = this.onIdBytes(chunk);
      if (rest === undefined || rest.length === 0 || (this.phaseValue as WirePhase) !== 'open') return;
      chunk = rest;
    } else if (this.held) {
      // The dialer has spoken: it has read our id, so frames can follow.
      this.releaseHeld();
    }
    // Frames go to the owner one at a time, each before the next is decoded, so a frame limit
    // the owner changes in onFrame (when its handshake completes) applies from the next byte on.
    while (chunk.length > 0) {
      const eot = chunk.indexOf(EOT_BYTE);
      const piece = eot === -1 ? chunk : chunk.subarray(0, eot + 1);
      chunk = chunk.subarray(piece.length);
      const results = this.decoder.push(piece);
      if (this.decoder.bufferedBytes > this.stats.receiveBufferPeakBytes) this.stats.receiveBufferPeakBytes = this.decoder.bufferedBytes;
      for (const r of results) {
        if (this.phaseValue !== 'open') return;
        if (r.type === 'error') {
          this.handler.onFrameError(r.error);
          if (r.error.fatal) return;
          continue;
        }
        this.stats.framesReceived++;
        this.handler.onFrame(r);
      }
    }
  }

  /** Handles bytes of the id exchange; returns the bytes that follow it, or undefined while it is incomplete or failed. */
  private onIdBytes(chunk: Buffer): Buffer | undefined {
    this.idBuf = this.idBuf.length === 0 ? chunk : Buffer.concat([this.idBuf, chunk]);
    if (this.direction === 'inbound') {
      const r = parseIdLine(this.idBuf);
      switch (r.status) {
        case 'incomplete':
          return undefined;
        case 'error':
          this.idBuf = Buffer.alloc(0);
          this.handler.onIdError(r.message);
          return undefined;
        case 'ok':
          this.idBuf = Buffer.alloc(0);
          this.remoteId = r.nodeId;
          this.remoteListen = r.port;
          this.phaseValue = 'open';
          // The acceptor answers with its bare id and nothing glued after it (document 002).
          this.writeRaw(Buffer.from(this.nodeId, 'latin1'));
          if (this.holdMs > 0 && r.rest.length === 0) {
            this.held = [];
            this.holdTimer = setTimeout(() => this.releaseHeld(), this.holdMs);
            this.holdTimer.unref();
          }
          this.handler.onIdExchanged(r.nodeId, r.port);
          return r.rest;
        default:
          return assertNever(r);
      }
    }
    const r = parseIdReply(this.idBuf);
    this.idBuf = Buffer.alloc(0);
    if (r.status === 'error') {
      this.handler.onIdError(r.message);
      return undefined;
    }
    this.remoteId = r.nodeId;
    this.phaseValue = 'open';
    this.handler.onIdExchanged(r.nodeId, undefined);
    return r.rest;
  }

  private onEnd(): void {
    const tail = this.decoder.end();
    const first = tail[0];
    this.handler.onRemoteEnd(first?.type === 'error' ? first.error : undefined);
  }

  private onClose(): void {
    if (this.phaseValue === 'closed') return;
    this.phaseValue = 'closed';
    clearTimeout(this.lingerTimer);
    clearTimeout(this.holdTimer);
    this.held = undefined;
    this.handler.onClose();
  }
}

function assertNever(x: never): never {
  throw new Error(`unexpected value ${JSON.stringify(x)}`);
}
