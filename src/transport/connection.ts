import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { assertNever } from '../core/reject.js';
import { WireConnection, type Direction, type Frame } from '../p2p/wire-connection.js';
import type { FrameError, FrameErrorCode } from './frame-decoder.js';
import {
  CLOSE_LINGER_MS,
  HANDSHAKE_TIMEOUT_MS,
  MAX_FRAME_BYTES,
  MAX_HANDSHAKE_FRAME_BYTES,
  MAX_REJECT_REASON_LENGTH,
  MAX_SEND_BUFFER_BYTES,
  MIN_PROTOCOL_VERSION,
  PING_INTERVAL_MS,
  STATUS_REFRESH_MS,
  PING_TIMEOUT_MS,
  PROTOCOL_VERSION,
} from './limits.js';
import { EncodedMessage, decodeMessage, encodeMessage, type Outgoing, type HelloPayload, type Message, type MessageErrorCode, type Method, type NodeRole } from './messages.js';
import { cryptoRandom, systemClock, type Clock, type RandomSource } from '../core/clock.js';
import type { TrafficCounters } from './traffic.js';
import { HANDSHAKE_NONCE_BYTES, handshakeTranscript, isAuthenticatedId, verifyTranscript, type HandshakeAuth, type IdentitySigner, type TranscriptInput } from './handshake-auth.js';

/*
 * One TCP connection to a peer, either direction, through its whole life:
 *
 *   id exchange (python-p2p-network 1.2, document 002)
 *     dialer   → `<nodeId>:<listenPort>`        (no terminator)
 *     acceptor → `<nodeId>`                      (no terminator, nothing after it)
 *   HELLO/HEY exchange (document 004), 0x04-framed JSON from here on
 *     dialer   → HELLO
 *     acceptor → HEY, HELLO
 *     dialer   → HEY                             handshake complete
 *   open: messages to the owner, PING/PONG liveness, HELLO refreshes.
 *
 * The events of python-p2p-network are emitted under their names. Everything
 * the remote does wrong ends the connection with a typed DisconnectReason
 * that tells the owner whether to ban.
 */

/** Which side dialled. */
export type { Direction } from '../p2p/wire-connection.js';

/** What the local chain looks like; asked each time a HELLO or HEY is sent. */
export interface ChainStatus {
  /** Height of the tip (block count - 1). */
  height: number;
  /** Tip hash, display hex. */
  tip: string;
  /** Cumulative work of the tip, expected hashes. */
  chainWork: bigint;
}

/**
 * Code of the REJECT that answers an application message this node does not
 * understand (a plain string, a JSON value that is not a one-key object, an
 * unknown method): the connection stays open and the remote is not punished,
 * so python-p2p-network programs can talk to a cheesechain peer.
 */
export const UNKNOWN_MESSAGE_REJECT_CODE = 'unknown-message';

/** Every reason a connection ends. */
export const DISCONNECT_REASONS = [
  // the remote side or the network
  'remote-closed',
  'socket-error',
  'handshake-timeout',
  'ping-timeout',
  // protocol violations by the remote (misbehaviour)
  'bad-id-line',
  'frame-too-large',
  'empty-frame',
  'bad-frame',
  'malformed-json',
  'not-an-object',
  'not-one-key',
  'unknown-method',
  'bad-payload',
  'unexpected-message',
  'wrong-network',
  'id-mismatch',
  'bad-auth',
  // incompatibility, nobody's fault
  'incompatible-version',
  'unsupported-compression',
  'self-connection',
  // decisions of the local owner (peer manager, gossip)
  'local-close',
  'shutdown',
  'duplicate-connection',
  'connection-limit',
  'banned',
  'invalid-block',
  'invalid-transaction',
  'stalled',
  'send-buffer-full',
  'internal-error',
] as const;

export type DisconnectReason = (typeof DISCONNECT_REASONS)[number];

/** Whether a disconnect adds misbehaviour points to the remote's score (`score`) or not (`none`). */
export type Penalty = 'score' | 'none';

/**
 * Misbehaviour points, after lodestar's peer actions: the owner adds them to
 * a decaying score per proven identity and per address, and bans at
 * {@link BAN_SCORE} (bcoin's ban score: 100). A fault that proves malice or
 * costs real work to check is fatal; a malformed message is tolerated a few
 * times (a buggy client is not an attacker); a message this node does not
 * understand, ignored for forward compatibility, is tolerated many times.
 */
export const MISBEHAVIOUR_POINTS = {
  /** Ends in a ban at once. */
  fatal: 100,
  /** About 5 within the score's half-life ban. */
  low: 20,
  /** About 100 within the score's half-life ban. */
  high: 1,
} as const;

/** Score at which a remote is banned (bcoin's `banScore`, Bitcoin Core's old `-banscore` default). */
export const BAN_SCORE = 100;

/**
 * The misbehaviour points of each reason, decided in one exhaustive switch
 * so that no call site invents its own punishment.
 * Consensus-invalid data, a failed identity proof and an oversized frame are
 * fatal; malformed frames and messages are low-tolerance faults; a message
 * that is not understood (answered with REJECT, the connection stays open)
 * costs a point; timeouts, closes, incompatibility (a wrong network included:
 * another network is not an attack) and local decisions cost nothing.
 */
export function misbehaviourPoints(reason: DisconnectReason): number {
  switch (reason) {
    case 'bad-auth':
    case 'frame-too-large':
    case 'invalid-block':
    case 'invalid-transaction':
      return MISBEHAVIOUR_POINTS.fatal;
    case 'bad-id-line':
    case 'empty-frame':
    case 'bad-frame':
    case 'malformed-json':
    case 'not-an-object':
    case 'not-one-key':
    case 'bad-payload':
    case 'unexpected-message':
    case 'id-mismatch':
      return MISBEHAVIOUR_POINTS.low;
    case 'unknown-method':
      return MISBEHAVIOUR_POINTS.high;
    case 'wrong-network':
    case 'remote-closed':
    case 'socket-error':
    case 'handshake-timeout':
    case 'ping-timeout':
    case 'incompatible-version':
    case 'unsupported-compression':
    case 'self-connection':
    case 'local-close':
    case 'shutdown':
    case 'duplicate-connection':
    case 'connection-limit':
    case 'banned':
    case 'stalled':
    case 'send-buffer-full':
    case 'internal-error':
      return 0;
    default:
      return assertNever(reason);
  }
}

/** `score` when a reason costs misbehaviour points, else `none`. */
export function disconnectPenalty(reason: DisconnectReason): Penalty {
  return misbehaviourPoints(reason) > 0 ? 'score' : 'none';
}

/** The disconnect reason of a refused frame. */
export function frameErrorReason(code: FrameErrorCode): DisconnectReason {
  switch (code) {
    case 'frame-too-large':
      return 'frame-too-large';
    case 'empty-frame':
      return 'empty-frame';
    case 'unsupported-compression':
      return 'unsupported-compression';
    case 'truncated-frame':
      return 'remote-closed';
    case 'invalid-utf8':
    case 'bad-base64':
    case 'unknown-compression':
    case 'decompression-failed':
    case 'decompressed-too-large':
      return 'bad-frame';
    default:
      return assertNever(code);
  }
}

/** The disconnect reason of a refused message (the codes are the same names). */
export function messageErrorReason(code: MessageErrorCode): DisconnectReason {
  switch (code) {
    case 'malformed-json':
    case 'not-an-object':
    case 'not-one-key':
    case 'unknown-method':
    case 'bad-payload':
      return code;
    default:
      return assertNever(code);
  }
}

/** How a connection ended; carried by the `*_node_disconnected` events and {@link PeerConnection.closed}. */
export interface DisconnectInfo {
  reason: DisconnectReason;
  /** Human detail, e.g. `bad-payload: ADDR: addresses[3].port: ...`. */
  message: string;
  /** Who ended it: `local` (this side decided, including for misbehaviour) or `remote` (close, reset, silence). */
  initiator: 'local' | 'remote';
  /** Whether the HELLO/HEY exchange had completed (and `*_node_connected` was emitted). */
  handshakeCompleted: boolean;
  /** `disconnectPenalty(reason)`. */
  penalty: Penalty;
  /** `misbehaviourPoints(reason)`: what the owner adds to the remote's score. */
  points: number;
  /** A REJECT the remote sent before the end, if any (its explanation). */
  remoteReject?: Extract<Message, { method: 'REJECT' }>['payload'];
  cause?: unknown;
}

/**
 * Events, named as python-p2p-network's (document 002). Listeners receive the
 * connection first, like the library's `connected_node` argument.
 *
 * - `outbound_node_connected` / `inbound_node_connected`: the HELLO/HEY
 *   exchange completed (at most once; `remoteHello` is set).
 * - `outbound_node_disconnected` / `inbound_node_disconnected`: the
 *   connection ended, exactly once per connection, for every cause (a clean
 *   remote close included, and also when the handshake never completed: check
 *   `info.handshakeCompleted`).
 * - `node_message`: a decoded message after the handshake (PING and PONG are
 *   answered here and not emitted).
 * - `node_disconnect_with_outbound_node`: this side is actively ending an
 *   outbound connection whose handshake completed; emitted before the socket
 *   closes, so a last message can still be sent.
 *
 * (`node_request_to_stop` is emitted by the listener, see `tcp.ts`.)
 */
export interface PeerConnectionEvents {
  outbound_node_connected: [conn: PeerConnection];
  inbound_node_connected: [conn: PeerConnection];
  outbound_node_disconnected: [conn: PeerConnection, info: DisconnectInfo];
  inbound_node_disconnected: [conn: PeerConnection, info: DisconnectInfo];
  node_message: [conn: PeerConnection, message: Message];
  node_disconnect_with_outbound_node: [conn: PeerConnection, info: DisconnectInfo];
  /**
   * A fault that did not end the connection (a message not understood,
   * answered with REJECT and ignored): `points` misbehaviour points for the
   * owner's score.
   */
  misbehaving: [conn: PeerConnection, fault: { reason: DisconnectReason; message: string; points: number }];
}

/** Options of a {@link PeerConnection}; timings default to the constants of `limits.ts`. */
export interface PeerConnectionInit {
  /** A connected socket; the connection owns it from now on. */
  socket: Socket;
  /** Bytes already read from the socket by the listener's protocol sniffer (a shared port); processed first. */
  initialBytes?: Buffer;
  direction: Direction;
  /** Our node id (`NODE_ID_PATTERN`). */
  nodeId: string;
  /** Port we listen on, sent in the id line and HELLO; 0 when not listening. */
  listenPort: number;
  /** Our network id: genesis hash, display hex. */
  network: string;
  /** Current chain status, read whenever a HELLO or HEY is sent. */
  status: () => ChainStatus;
  /** @default 'peer' */
  role?: NodeRole;
  /** Software name sent in HELLO, informative. */
  agent?: string;
  /** @default HANDSHAKE_TIMEOUT_MS (5000) */
  handshakeTimeoutMs?: number;
  /** @default PING_INTERVAL_MS (30000) */
  pingIntervalMs?: number;
  /** @default PING_TIMEOUT_MS (20000) */
  pingTimeoutMs?: number;
  /** @default STATUS_REFRESH_MS (15000) */
  statusRefreshMs?: number;
  /** @default MAX_SEND_BUFFER_BYTES (16,000,000) */
  maxSendBufferBytes?: number;
  /** @default MAX_FRAME_BYTES (4,000,000) */
  maxFrameBytes?: number;
  /** @default CLOSE_LINGER_MS (1000) */
  closeLingerMs?: number;
  /** Clock for `time` in HELLO and liveness bookkeeping. @default systemClock */
  clock?: Clock;
  /** Source of ping nonces and of the handshake nonce. @default cryptoRandom */
  random?: RandomSource;
  /** Where this connection counts its messages and bytes by method (shared by a peer manager's connections). */
  traffic?: TrafficCounters;
  /**
   * Our identity key: HELLO/HEY then carry `auth` and the HEY is signed
   * (`handshake-auth.ts`). Without it this side is unauthenticated and may
   * not use an authenticated node id.
   */
  identity?: IdentitySigner;
  /**
   * Called when the remote's HELLO has been checked, before it is answered:
   * the owner can refuse the remote (a ban on its key, a duplicate) with a
   * reason, which is sent as REJECT. `publicKey` is the key the remote
   * claims; it is proven only if the handshake completes.
   */
  admit?: (remote: { nodeId: string; hello: HelloPayload; publicKey: string | undefined }) => { reason: DisconnectReason; message: string } | undefined;
}

/** Phases of a connection, in order. */
export type ConnectionPhase = 'id-exchange' | 'handshake' | 'open' | 'closing' | 'closed';

/** Thrown by {@link PeerConnection.send} before the handshake completes (a bug in the caller: the protocol forbids it). */
export class ConnectionStateError extends Error {
  override readonly name = 'ConnectionStateError';
  readonly code = 'ERR_CONNECTION_NOT_OPEN';
  constructor(phase: ConnectionPhase) {
    super(`cannot send application messages in phase ${phase}: the handshake has not completed`);
  }
}

// The id exchange is the library's (`src/p2p/id-exchange.ts`); re-exported for the transport's users.
export { parseIdLine, parseIdReply, type IdLineResult } from '../p2p/id-exchange.js';

// ---------------------------------------------------------------------------

/** Rejection of {@link PeerConnection.ready} when the connection ends before its handshake completes; carries how it ended. */
export class ConnectionClosedError extends Error {
  override readonly name = 'ConnectionClosedError';
  readonly code = 'ERR_CONNECTION_CLOSED';
  constructor(readonly info: DisconnectInfo) {
    super(`connection closed before the handshake completed: ${info.reason}: ${info.message}`);
  }
}

/**
 * One peer connection over a `net.Socket`, for both directions (see the
 * module comment for the exchange). Created by `listen` (inbound) or `dial`
 * (outbound) in `tcp.ts`; the owner subscribes to its events right away
 * (they are never emitted synchronously from the constructor).
 *
 * The owner can: read the remote's id, listen port and latest HELLO/HEY
 * (`remoteNodeId`, `remoteListenPort`, `remoteHello`), `send` messages with
 * backpressure (`drain`), and `close` with a reason.
 */
export class PeerConnection extends EventEmitter<PeerConnectionEvents> {
  readonly direction: Direction;
  /** IP address of the remote end of the socket. */
  readonly remoteAddress: string;
  /** TCP port of the remote end of the socket (not its listen port). */
  readonly remotePort: number;
  /** Resolves with the remote's HELLO when the handshake completes; rejects with {@link ConnectionClosedError} if the connection ends first. */
  readonly ready: Promise<HelloPayload>;
  /** Resolves once when the connection has ended (never rejects). */
  readonly closed: Promise<DisconnectInfo>;

  /** The python-p2p-network wire under this connection: id exchange, framing, counters, the socket. */
  private readonly wire: WireConnection;
  private readonly init: PeerConnectionInit;
  private readonly now: () => number;
  private readonly random: RandomSource;
  private phaseValue: ConnectionPhase = 'id-exchange';
  private remoteId: string | undefined;
  private remoteListen: number | undefined;
  private hello: HelloPayload | undefined;
  private gotHello = false;
  private gotHey = false;
  private connectedEmitted = false;
  /** True while `node_disconnect_with_outbound_node` listeners run: they may still send. */
  private lastWordsAllowed = false;
  private ending: Omit<DisconnectInfo, 'handshakeCompleted' | 'penalty' | 'points'> | undefined;
  /** Our fresh nonce for this connection's handshake transcript, hex. */
  private readonly localNonce: string;
  /** The remote's `auth` (key and nonce) from its first HELLO or HEY. */
  private remoteAuth: HandshakeAuth | undefined;
  /** The remote's public key once its HEY signature verified. */
  private provenKey: string | undefined;
  private remoteReject: DisconnectInfo['remoteReject'];
  private handshakeTimer: NodeJS.Timeout | undefined;
  private livenessTimer: NodeJS.Timeout | undefined;
  private lastReceivedAt: number;
  private pingNonce: number | undefined;
  private pingSentAt = 0;
  private latency: number | undefined;
  /** When our last HELLO (handshake or refresh) went out, while its HEY is awaited. */
  private helloSentAt: number | undefined;
  private lastRefreshAt = 0;
  private nextNonce: number;
  private resolveReady!: (h: HelloPayload) => void;
  private rejectReady!: (e: Error) => void;
  private resolveClosed!: (i: DisconnectInfo) => void;
  private stats = { messagesReceived: 0, messagesSent: 0, messagesRejected: 0 };

  /** @throws RangeError when `nodeId` or `listenPort` is invalid (exact message names the option). */
  constructor(init: PeerConnectionInit) {
    super();
    this.init = init;
    this.direction = init.direction;
    const clock = init.clock ?? systemClock;
    this.now = () => clock.nowMs();
    this.random = init.random ?? cryptoRandom;
    this.nextNonce = this.random.below(0x7fff_ffff);
    this.localNonce = Buffer.from(this.random.bytes(HANDSHAKE_NONCE_BYTES)).toString('hex');
    if (isAuthenticatedId(init.nodeId) && init.nodeId !== `ed25519_${init.identity?.publicKeyHex}`) {
      throw new RangeError('options.nodeId of the authenticated form must be the id of options.identity');
    }
    this.lastReceivedAt = this.now();
    const wireInit: ConstructorParameters<typeof WireConnection>[0] = {
      socket: init.socket,
      direction: init.direction,
      nodeId: init.nodeId,
      listenPort: init.listenPort,
      maxFrameBytes: init.maxFrameBytes ?? MAX_FRAME_BYTES,
      closeLingerMs: init.closeLingerMs ?? CLOSE_LINGER_MS,
      handler: {
        onIdExchanged: (id, port) => this.onIdExchanged(id, port),
        onIdError: (message) => this.abort('bad-id-line', `bad id ${this.direction === 'inbound' ? 'line' : 'reply'}: ${message}`),
        onFrame: (frame) => this.onFrame(frame),
        onFrameError: (error) => this.onFrameError(error),
        onRemoteEnd: (truncated) => this.onEnd(truncated),
        onSocketError: (err) => this.onSocketError(err),
        onClose: () => this.onClose(),
      },
    };
    if (init.initialBytes) wireInit.initialBytes = init.initialBytes;
    this.wire = new WireConnection(wireInit);
    // Before the HELLO/HEY exchange only small frames are accepted (MAX_HANDSHAKE_FRAME_BYTES).
    this.wire.maxFrameBytes = Math.min(MAX_HANDSHAKE_FRAME_BYTES, init.maxFrameBytes ?? MAX_FRAME_BYTES);
    this.remoteAddress = this.wire.remoteAddress;
    this.remotePort = this.wire.remotePort;
    this.ready = new Promise<HelloPayload>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => undefined); // observed by whoever awaits it; never an unhandled rejection
    this.closed = new Promise<DisconnectInfo>((resolve) => (this.resolveClosed = resolve));
    if (this.wire.phase === 'closed' || init.socket.destroyed) {
      this.setEnding('socket-error', 'socket already closed', 'remote');
      return;
    }
    this.lastReceivedAt = this.now();
    init.socket.on('data', () => (this.lastReceivedAt = this.now()));
    this.handshakeTimer = setTimeout(
      () => this.abort('handshake-timeout', `handshake not completed within ${this.init.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS} ms`),
      init.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS,
    );
    this.handshakeTimer.unref();
  }

  // -------------------------------------------------------------------------
  // What the owner reads

  get phase(): ConnectionPhase {
    return this.phaseValue;
  }

  /** Whether the handshake completed and the connection is still open. */
  get isOpen(): boolean {
    return this.phaseValue === 'open';
  }

  /** The remote's node id from the id exchange (undefined before it). */
  get remoteNodeId(): string | undefined {
    return this.remoteId;
  }

  /** The port the remote listens on: from its id line (inbound) or its HELLO; 0 when it does not listen. */
  get remoteListenPort(): number | undefined {
    return this.hello?.port ?? this.remoteListen;
  }

  /** The remote's latest HELLO or HEY (height, tip, chain work, time, …). */
  get remoteHello(): HelloPayload | undefined {
    return this.hello;
  }

  /**
   * The remote's ed25519 public key (hex) once its signed HEY proved it;
   * undefined for an unauthenticated remote (a plain python-p2p-network
   * program) and before the handshake completes.
   */
  get remoteIdentity(): string | undefined {
    return this.connectedEmitted ? this.provenKey : undefined;
  }

  /** Round-trip time of the last answered HELLO (the handshake's or a status refresh) or PING, ms. */
  get latencyMs(): number | undefined {
    return this.latency;
  }

  /**
   * Counters: bytes and messages in both directions (id exchange bytes
   * included), and the most bytes of an incomplete frame ever held.
   */
  get counters(): Readonly<{ bytesReceived: number; bytesSent: number; messagesReceived: number; messagesSent: number; messagesRejected: number; receiveBufferPeakBytes: number }> {
    const w = this.wire.counters;
    return { bytesReceived: w.bytesReceived, bytesSent: w.bytesSent, receiveBufferPeakBytes: w.receiveBufferPeakBytes, ...this.stats };
  }

  /** Bytes queued in the socket, not yet handed to the kernel. */
  get sendBufferedBytes(): number {
    return this.wire.sendBufferedBytes;
  }

  /** Bytes of an incomplete frame held by the decoder (never more than the frame limit). */
  get receiveBufferedBytes(): number {
    return this.wire.receiveBufferedBytes;
  }

  /** `host:port` of the socket's remote end, for logs. */
  override toString(): string {
    return `${this.direction} ${this.remoteId ?? '?'}@${this.remoteAddress}:${this.remotePort}`;
  }

  // -------------------------------------------------------------------------
  // What the owner does

  /**
   * Sends a message. Returns false when the message is queued beyond the
   * socket's high-water mark (await {@link drain} before sending more), or
   * when the connection is closing or closed (the message is dropped). If
   * more than `maxSendBufferBytes` pile up, the connection ends with
   * `send-buffer-full`.
   * @throws ConnectionStateError before the handshake has completed.
   * @throws FrameError `frame-too-large` when the message cannot be framed.
   */
  send(msg: Outgoing): boolean {
    switch (this.phaseValue) {
      case 'open':
        return this.sendMessage(msg);
      case 'closing':
        // allowed from node_disconnect_with_outbound_node listeners ("send some last message")
        return this.lastWordsAllowed ? this.sendMessage(msg) : false;
      case 'closed':
        return false;
      case 'id-exchange':
      case 'handshake':
        throw new ConnectionStateError(this.phaseValue);
      default:
        return assertNever(this.phaseValue);
    }
  }

  /** Resolves when the send buffer has drained below the high-water mark, or at once when it is already, or when the connection ends. */
  drain(): Promise<void> {
    return this.wire.drain();
  }

  /**
   * Ends the connection: pending writes are flushed (for at most
   * `closeLingerMs`), then the socket closes and `*_node_disconnected` is
   * emitted with `reason`. For an outbound connection whose handshake
   * completed, `node_disconnect_with_outbound_node` is emitted first.
   * Idempotent: returns {@link closed}.
   */
  close(reason: DisconnectReason = 'local-close', message = `closed locally (${reason})`): Promise<DisconnectInfo> {
    this.beginClose(reason, message, 'local', false);
    return this.closed;
  }

  /**
   * Ends the connection because of something the remote sent that the node
   * refused (a consensus-invalid block or transaction): first a REJECT naming
   * the refused message, the validation code and the item's hash (Bitcoin's
   * `reject` with its ccode), then the close with `reason`.
   */
  reject(reason: DisconnectReason, message: string, refused: { method: Method; code: string; hash?: string }): Promise<DisconnectInfo> {
    this.beginClose(reason, message, 'local', true, undefined, refused.method, refused);
    return this.closed;
  }

  // -------------------------------------------------------------------------
  // Internals

  private sendMessage(msg: Outgoing): boolean {
    const ok = this.writeMessage(msg);
    if (this.wire.sendBufferedBytes > (this.init.maxSendBufferBytes ?? MAX_SEND_BUFFER_BYTES)) {
      this.beginClose('send-buffer-full', `more than ${this.init.maxSendBufferBytes ?? MAX_SEND_BUFFER_BYTES} bytes queued for a peer that does not read`, 'local', false);
      return false;
    }
    return ok;
  }

  private myHello(method: 'HELLO' | 'HEY'): HelloPayload {
    const s = this.init.status();
    const hello: HelloPayload = {
      version: PROTOCOL_VERSION,
      network: this.init.network,
      height: s.height,
      tip: s.tip,
      chainWork: s.chainWork,
      time: Math.floor(this.now() / 1000),
      nodeId: this.init.nodeId,
      port: this.init.listenPort,
    };
    if (this.init.agent !== undefined) hello.agent = this.init.agent;
    if (this.init.role !== undefined) hello.role = this.init.role;
    const identity = this.init.identity;
    if (identity) {
      hello.auth = { publicKey: identity.publicKeyHex, nonce: this.localNonce };
      // The HEY of the handshake proves the key: a signature over both nonces, keys and ids.
      if (method === 'HEY' && this.phaseValue === 'handshake') {
        hello.auth.signature = identity.sign(handshakeTranscript(this.transcript(this.direction === 'outbound' ? 'dialer' : 'acceptor')));
      }
    }
    return hello;
  }

  /** Both ends of this connection, dialer first, as the handshake transcript names them. */
  private transcript(signer: 'dialer' | 'acceptor'): TranscriptInput {
    const local = { nodeId: this.init.nodeId, ...(this.init.identity ? { publicKey: this.init.identity.publicKeyHex, nonce: this.localNonce } : {}) };
    const remote = { nodeId: this.remoteId ?? '', ...(this.remoteAuth ? { publicKey: this.remoteAuth.publicKey, nonce: this.remoteAuth.nonce } : {}) };
    return this.direction === 'outbound'
      ? { network: this.init.network, signer, dialer: local, acceptor: remote }
      : { network: this.init.network, signer, dialer: remote, acceptor: local };
  }

  /** Sends our HELLO or HEY; false when it could not be built (the connection is then closing). */
  private sendHello(method: 'HELLO' | 'HEY'): boolean {
    let payload: HelloPayload;
    try {
      payload = this.myHello(method);
    } catch (err) {
      // The owner's status() failed: not the remote's fault.
      this.beginClose('internal-error', `status() threw: ${(err as Error)?.message}`, 'local', false, err);
      return false;
    }
    this.writeMessage({ method, payload });
    if (method === 'HELLO') this.helloSentAt = this.now();
    return true;
  }

  /** A HEY answers our last HELLO: its round trip is the latency (the handshake's, then each refresh's). */
  private heyArrived(): void {
    if (this.helloSentAt === undefined) return;
    this.latency = this.now() - this.helloSentAt;
    this.helloSentAt = undefined;
  }

  /** Frames and writes one message, counting it; the caller checks the phase. */
  private writeMessage(msg: Outgoing): boolean {
    const frame = msg instanceof EncodedMessage ? msg.frame : encodeMessage(msg);
    this.stats.messagesSent++;
    this.init.traffic?.countSent(msg instanceof EncodedMessage ? msg.message.method : msg.method, frame.length);
    return this.wire.sendEncoded(frame);
  }

  /** The wire's id exchange completed (inbound: our bare id has been sent). */
  private onIdExchanged(remoteId: string, port: number | undefined): void {
    if (this.phaseValue !== 'id-exchange') return;
    this.remoteId = remoteId;
    if (port !== undefined) this.remoteListen = port;
    if (remoteId === this.init.nodeId) {
      this.abort('self-connection', `the ${this.direction === 'inbound' ? 'dialer' : 'acceptor'} has our node id`);
      return;
    }
    this.phaseValue = 'handshake';
    if (this.direction === 'outbound') this.sendHello('HELLO');
  }

  private onFrameError(error: FrameError): void {
    if (this.phaseValue === 'closing' || this.phaseValue === 'closed') return;
    this.abort(frameErrorReason(error.reason), `${error.reason}: ${error.message}`, undefined, error);
  }

  private onFrame(frame: Frame): void {
    if (this.phaseValue === 'closing' || this.phaseValue === 'closed') return;
    const decoded = decodeMessage(frame.text);
    if (!decoded.ok) {
      const code = decoded.error.reason;
      if (this.phaseValue === 'open' && code !== 'bad-payload') {
        // An application message this node does not understand (a python-p2p-network
        // program's own messages, a plain string): answered with REJECT, never a ban.
        this.stats.messagesRejected++;
        this.sendMessage({
          method: 'REJECT',
          payload: { message: '', code: UNKNOWN_MESSAGE_REJECT_CODE, reason: `${code}: ${decoded.error.message}`.slice(0, MAX_REJECT_REASON_LENGTH) },
        });
        // Scored lightly, never a ban by itself: a flood of them adds up.
        this.emitSafe('misbehaving', this, { reason: 'unknown-method', message: `${code}: ${decoded.error.message}`, points: misbehaviourPoints('unknown-method') });
        return;
      }
      this.abort(messageErrorReason(code), `${code}: ${decoded.error.message}`, decoded.error.method, decoded.error);
      return;
    }
    this.stats.messagesReceived++;
    this.init.traffic?.countReceived(decoded.message.method, frame.wireBytes + 1);
    if (this.phaseValue === 'open') this.onOpenMessage(decoded.message);
    else this.onHandshakeMessage(decoded.message);
  }

  /**
   * Checks a remote HELLO/HEY; ends the connection and returns false when it
   * is unacceptable.
   */
  private acceptHello(method: 'HELLO' | 'HEY', h: HelloPayload): boolean {
    if (h.version < MIN_PROTOCOL_VERSION) {
      this.abort('incompatible-version', `${method} version ${h.version} is older than ${MIN_PROTOCOL_VERSION}`, method);
      return false;
    }
    if (h.network !== this.init.network) {
      this.abort('wrong-network', `${method} network ${h.network} is not ours (${this.init.network})`, method);
      return false;
    }
    if (h.nodeId !== this.remoteId) {
      this.abort('id-mismatch', `${method} nodeId ${h.nodeId} differs from the id exchanged (${this.remoteId})`, method);
      return false;
    }
    const authError = this.checkAuth(method, h);
    if (authError) {
      this.abort('bad-auth', `${method}: ${authError}`, method);
      return false;
    }
    this.hello = h;
    return true;
  }

  /**
   * The identity rules (`handshake-auth.ts`, docs/protocol.md §4.1): the key
   * and nonce never change within a connection; an authenticated node id
   * needs its own key; a HEY of the handshake that carries `auth` is signed
   * over the transcript. Returns why the remote fails them, or undefined.
   */
  private checkAuth(method: 'HELLO' | 'HEY', h: HelloPayload): string | undefined {
    const a = h.auth;
    if (!a) {
      if (this.remoteAuth) return 'auth missing after the remote sent its key';
      if (isAuthenticatedId(h.nodeId)) return `node id ${h.nodeId} is of the authenticated form but no key proves it`;
      return undefined;
    }
    if (!this.remoteAuth && this.hello && !this.hello.auth) return 'key appeared after a HELLO or HEY without one';
    if (this.remoteAuth && (a.publicKey !== this.remoteAuth.publicKey || a.nonce !== this.remoteAuth.nonce)) return 'key or nonce changed within the connection';
    if (isAuthenticatedId(h.nodeId) && h.nodeId !== `ed25519_${a.publicKey}`) return `node id ${h.nodeId} is not the id of key ${a.publicKey}`;
    if (a.nonce === this.localNonce) return 'the remote echoed our nonce';
    this.remoteAuth = { publicKey: a.publicKey, nonce: a.nonce };
    if (method === 'HEY' && this.phaseValue === 'handshake') {
      if (a.signature === undefined) return 'HEY carries a key but no signature';
      const signer = this.direction === 'outbound' ? 'acceptor' : 'dialer';
      if (!verifyTranscript(this.transcript(signer), a.publicKey, a.signature)) return 'signature does not match the handshake transcript';
      this.provenKey = a.publicKey;
    }
    return undefined;
  }

  /** Lets the owner refuse the remote once its HELLO is known (bans, duplicates); false when it did. */
  private admitted(): boolean {
    const admit = this.init.admit;
    if (!admit || !this.hello || this.remoteId === undefined) return true;
    let refusal: { reason: DisconnectReason; message: string } | undefined;
    try {
      refusal = admit({ nodeId: this.remoteId, hello: this.hello, publicKey: this.remoteAuth?.publicKey });
    } catch (err) {
      this.beginClose('internal-error', `admit() threw: ${(err as Error)?.message}`, 'local', false, err);
      return false;
    }
    if (!refusal) return true;
    this.beginClose(refusal.reason, refusal.message, 'local', true, undefined, 'HELLO');
    return false;
  }

  private onHandshakeMessage(msg: Message): void {
    switch (msg.method) {
      case 'HELLO':
        if (this.gotHello) return this.abort('unexpected-message', 'second HELLO during the handshake', 'HELLO');
        // Document 004 has the acceptor send HEY then HELLO; either order is accepted.
        if (!this.acceptHello('HELLO', msg.payload) || !this.admitted()) return;
        this.gotHello = true;
        if (this.direction === 'inbound') {
          if (this.sendHello('HEY')) this.sendHello('HELLO');
        } else if (this.sendHello('HEY') && this.gotHey) {
          this.completeHandshake();
        }
        return;
      case 'HEY':
        if (this.gotHey) return this.abort('unexpected-message', 'second HEY during the handshake', 'HEY');
        if (this.direction === 'inbound' && !this.gotHello) return this.abort('unexpected-message', 'HEY before HELLO from the dialer', 'HEY');
        if (!this.acceptHello('HEY', msg.payload)) return;
        this.gotHey = true;
        this.heyArrived();
        if (this.gotHello) this.completeHandshake();
        return;
      case 'REJECT':
        // Informative: the remote says why it is about to close.
        this.remoteReject = msg.payload;
        return;
      default:
        return this.abort('unexpected-message', `${msg.method} before the HELLO/HEY exchange completed`, msg.method);
    }
  }

  private completeHandshake(): void {
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.phaseValue = 'open';
    this.wire.maxFrameBytes = this.init.maxFrameBytes ?? MAX_FRAME_BYTES;
    this.startLiveness();
    this.connectedEmitted = true;
    this.resolveReady(this.hello!);
    if (this.direction === 'outbound') this.emitSafe('outbound_node_connected', this);
    else this.emitSafe('inbound_node_connected', this);
  }

  private onOpenMessage(msg: Message): void {
    switch (msg.method) {
      case 'PING':
        this.sendMessage({ method: 'PONG', payload: { nonce: msg.payload.nonce } });
        return;
      case 'PONG':
        if (this.pingNonce !== undefined && msg.payload.nonce === this.pingNonce) {
          this.latency = this.now() - this.pingSentAt;
          this.pingNonce = undefined;
        }
        return;
      case 'HELLO':
        // A status refresh (the tracker's liveness check, document 004): answered with HEY.
        if (!this.acceptHello('HELLO', msg.payload) || !this.sendHello('HEY')) return;
        break;
      case 'HEY':
        if (!this.acceptHello('HEY', msg.payload)) return;
        this.heyArrived();
        break;
      case 'REJECT':
        this.remoteReject = msg.payload;
        break;
      case 'GETADDR':
      case 'ADDR':
      case 'BROADCASTBLOCK':
      case 'GETBLOCK':
      case 'GETLISTOFBLOCKS':
      case 'LISTOFBLOCKS':
      case 'BLOCK':
      case 'PUSHTRANSACTION':
      case 'BROADCASTTRANSACTION':
      case 'GETTRANSACTIONS':
      case 'SENDCMPCT':
      case 'CMPCTBLOCK':
      case 'GETBLOCKTXN':
      case 'BLOCKTXN':
      case 'GETBLOCKS':
      case 'BLOCKS':
        break;
      default:
        return assertNever(msg);
    }
    this.emitSafe('node_message', this, msg);
  }

  /**
   * Liveness: after `pingIntervalMs` of silence send PING; if still nothing
   * arrives within `pingTimeoutMs`, end with `ping-timeout`. Status: every
   * `statusRefreshMs` a HELLO refresh, unless one is still unanswered. Checked
   * every half of the shortest of the three.
   */
  private startLiveness(): void {
    const interval = this.init.pingIntervalMs ?? PING_INTERVAL_MS;
    const timeout = this.init.pingTimeoutMs ?? PING_TIMEOUT_MS;
    const refresh = this.init.statusRefreshMs ?? STATUS_REFRESH_MS;
    const tick = Math.max(5, Math.floor(Math.min(interval, timeout, refresh) / 2));
    this.lastRefreshAt = this.now();
    this.livenessTimer = setInterval(() => {
      const now = this.now();
      if (this.helloSentAt === undefined && now - this.lastRefreshAt >= refresh) {
        this.lastRefreshAt = now;
        this.sendHello('HELLO');
      }
      if (this.pingNonce !== undefined && this.lastReceivedAt < this.pingSentAt) {
        if (now - this.pingSentAt >= timeout) this.abort('ping-timeout', `nothing received within ${timeout} ms of a PING`);
        return;
      }
      if (now - this.lastReceivedAt >= interval) {
        this.nextNonce = (this.nextNonce + 1) % Number.MAX_SAFE_INTEGER;
        this.pingNonce = this.nextNonce;
        this.pingSentAt = now;
        this.sendMessage({ method: 'PING', payload: { nonce: this.pingNonce } });
      }
    }, tick);
    this.livenessTimer.unref();
  }

  private emitSafe<K extends keyof PeerConnectionEvents>(event: K, ...args: PeerConnectionEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: PeerConnectionEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      // A bug in a listener is not the remote's fault: end the connection without penalty and keep the cause.
      this.beginClose('internal-error', `a ${event} listener threw: ${(err as Error)?.message}`, 'local', false, err);
    }
  }

  private setEnding(reason: DisconnectReason, message: string, initiator: 'local' | 'remote', cause?: unknown): void {
    if (this.ending) return;
    this.ending = { reason, message, initiator };
    if (cause !== undefined) this.ending.cause = cause;
  }

  /**
   * Ends the connection because of the remote. After the id exchange a
   * REJECT explains why (informative); before it nothing is sent, because a
   * python-p2p-network dialer would read it as the acceptor's id.
   */
  private abort(reason: DisconnectReason, message: string, method?: Method, cause?: unknown): void {
    this.beginClose(reason, message, 'local', true, cause, method);
  }

  private beginClose(
    reason: DisconnectReason,
    message: string,
    initiator: 'local' | 'remote',
    reject: boolean,
    cause?: unknown,
    method?: string,
    refused?: { code: string; hash?: string },
  ): void {
    if (this.phaseValue === 'closing' || this.phaseValue === 'closed' || this.ending) return;
    this.setEnding(reason, message, initiator, cause);
    const wasOpen = this.phaseValue === 'open';
    const afterIds = this.phaseValue !== 'id-exchange';
    if (this.direction === 'outbound' && this.connectedEmitted && wasOpen) {
      this.lastWordsAllowed = true;
      this.phaseValue = 'closing';
      try {
        this.emit('node_disconnect_with_outbound_node', this, this.info());
      } catch {
        // the connection is ending anyway
      }
      this.lastWordsAllowed = false;
    }
    this.phaseValue = 'closing';
    this.stopTimers();
    if (reject && afterIds) {
      const payload = { message: method ?? '', code: refused?.code ?? reason, reason: message.slice(0, MAX_REJECT_REASON_LENGTH), ...(refused?.hash ? { hash: refused.hash } : {}) };
      this.writeMessage({ method: 'REJECT', payload });
    }
    this.wire.end();
  }

  private stopTimers(): void {
    clearTimeout(this.handshakeTimer);
    clearInterval(this.livenessTimer);
    this.handshakeTimer = undefined;
    this.livenessTimer = undefined;
  }

  private onEnd(tail: FrameError | undefined): void {
    // The remote closed its side (a clean close: python-p2p-network fired no event for it; we do).
    const truncated = tail ? ` inside a frame (${tail.message})` : '';
    const rejected = this.remoteReject ? ` after REJECT ${this.remoteReject.code}: ${this.remoteReject.reason}` : '';
    this.setEnding('remote-closed', `the remote closed the connection${truncated}${rejected}`, 'remote');
  }

  private onSocketError(err: Error): void {
    this.setEnding('socket-error', `socket error: ${err.message}`, 'remote', err);
  }

  private info(): DisconnectInfo {
    const e = this.ending ?? { reason: 'remote-closed' as const, message: 'the socket closed', initiator: 'remote' as const };
    const info: DisconnectInfo = { ...e, handshakeCompleted: this.connectedEmitted, penalty: disconnectPenalty(e.reason), points: misbehaviourPoints(e.reason) };
    if (this.remoteReject) info.remoteReject = this.remoteReject;
    return info;
  }

  private onClose(): void {
    if (this.phaseValue === 'closed') return;
    this.phaseValue = 'closed';
    this.stopTimers();
    const info = this.info();
    this.resolveClosed(info);
    this.rejectReady(new ConnectionClosedError(info));
    if (this.direction === 'outbound') this.emit('outbound_node_disconnected', this, info);
    else this.emit('inbound_node_disconnected', this, info);
  }
}
