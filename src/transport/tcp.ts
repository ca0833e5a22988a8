import { EventEmitter } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { openSocket } from '../p2p/dial.js';
import { PeerConnection, type PeerConnectionInit } from './connection.js';
import { CONNECT_TIMEOUT_MS, MAX_PORT } from './limits.js';

/** Options shared by every connection a listener accepts (see {@link PeerConnectionInit}). */
export type ConnectionOptions = Omit<PeerConnectionInit, 'socket' | 'direction' | 'listenPort'>;

/** Options of {@link listen}. */
export interface ListenInit extends ConnectionOptions {
  /** Interface to bind. @default '127.0.0.1' */
  host?: string;
  /** Port to bind, 0 for any free port (read the bound one from {@link PeerListener.port}). */
  port: number;
  /**
   * Called synchronously for every accepted connection, before any of its
   * bytes are read: subscribe to its events here. The connection then runs
   * the id exchange and the handshake by itself.
   */
  onConnection: (conn: PeerConnection) => void;
  /**
   * Admission check, before a single byte is read or written (bans, inbound
   * limits). A refused socket is destroyed and no connection is created.
   * @default accept everyone
   */
  accept?: (remote: { address: string; port: number }) => boolean;
}

/** Events of a {@link PeerListener}. */
export interface PeerListenerEvents {
  /** python-p2p-network's `node_request_to_stop`: the node is stopping (emitted once, by {@link PeerListener.close}); no connection involved. */
  node_request_to_stop: [];
  /** An accept-loop failure after listening started (the listener keeps running). */
  error: [err: Error];
}

/** Failure to bind (port in use, no permission, bad host). */
export class ListenError extends Error {
  override readonly name = 'ListenError';
  readonly code = 'ERR_LISTEN';
  constructor(host: string, port: number, cause: unknown) {
    super(`cannot listen on ${host}:${port}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}

/** Failure to open a TCP connection to a peer (refused, unreachable, timed out). */
export class DialError extends Error {
  override readonly name = 'DialError';
  readonly code = 'ERR_DIAL';
  constructor(host: string, port: number, message: string, cause?: unknown) {
    super(`cannot connect to ${host}:${port}: ${message}`, { cause });
  }
}

/**
 * A listening peer-protocol socket. It owns the inbound connections it
 * accepted until they end; `close()` stops accepting and ends them.
 */
export class PeerListener extends EventEmitter<PeerListenerEvents> {
  /** Bound interface. */
  readonly host: string;
  /** Bound port (the real one when 0 was asked). */
  readonly port: number;
  private readonly sockets: SocketListener;
  private readonly live = new Set<PeerConnection>();
  private closing: Promise<void> | undefined;

  /** @internal use {@link listen}. */
  constructor(sockets: SocketListener) {
    super();
    this.sockets = sockets;
    this.host = sockets.host;
    this.port = sockets.port;
  }

  /** Inbound connections accepted and not yet ended. */
  get connections(): ReadonlySet<PeerConnection> {
    return this.live;
  }

  /** @internal */
  track(conn: PeerConnection): void {
    this.live.add(conn);
    void conn.closed.then(() => this.live.delete(conn));
  }

  /**
   * Stops the node's listener: emits `node_request_to_stop` once, stops
   * accepting, ends every inbound connection with reason `shutdown` and
   * resolves when they and the server are closed. Idempotent.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.emit('node_request_to_stop');
    const serverClosed = this.sockets.close();
    const conns = [...this.live].map((c) => c.close('shutdown', 'the node is stopping'));
    this.closing = Promise.all([serverClosed, ...conns]).then(() => undefined);
    return this.closing;
  }
}

/** Options of {@link listenSockets}. */
export interface SocketListenInit {
  /** Interface to bind. @default '127.0.0.1' */
  host?: string;
  /** Port to bind, 0 for any free port. */
  port: number;
  /** Every accepted socket (Nagle off), before a byte is read: the caller owns it from here. */
  onSocket: (socket: Socket) => void;
  /** Accept-loop failures after binding (EMFILE and the like); the listener keeps running. @default ignored */
  onError?: (err: Error) => void;
}

/** A bound listening socket of {@link listenSockets}. */
export interface SocketListener {
  /** Bound interface. */
  readonly host: string;
  /** Bound port (the real one when 0 was asked). */
  readonly port: number;
  /** Stops accepting; resolves when the server is closed (accepted sockets are the caller's to end). */
  close(): Promise<void>;
}

/**
 * The one place the node binds a TCP port for peers: {@link listen} builds
 * peer connections on it, and the peer manager uses it directly because it
 * admits or refuses a socket (bans, per-address caps, the document-001
 * sniff) before any connection exists.
 * @throws ListenError when the port cannot be bound.
 * @throws RangeError when `port` is not an integer from 0 to 65535.
 */
export async function listenSockets(init: SocketListenInit): Promise<SocketListener> {
  const host = init.host ?? '127.0.0.1';
  if (!Number.isInteger(init.port) || init.port < 0 || init.port > MAX_PORT) throw new RangeError(`options.port must be an integer from 0 to ${MAX_PORT}`);
  const server = createServer({ noDelay: true }, init.onSocket);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(new ListenError(host, init.port, err));
    server.once('error', onError);
    server.listen(init.port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  // Accept-loop errors after binding must not crash the process: the server keeps listening.
  server.on('error', (err) => init.onError?.(err));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : init.port;
  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    close: () => (closing ??= new Promise<void>((resolve) => server.close(() => resolve()))),
  };
}

/**
 * The one place the node opens a TCP connection to a peer (Nagle off).
 * @param timeoutMs - give up after this many ms. @default CONNECT_TIMEOUT_MS (5000)
 * @throws DialError when the connection is refused, unreachable or not made within `timeoutMs`.
 * @throws RangeError when `port` is not an integer from 1 to 65535.
 */
export function connectSocket(host: string, port: number, timeoutMs: number = CONNECT_TIMEOUT_MS): Promise<Socket> {
  if (!Number.isInteger(port) || port < 1 || port > MAX_PORT) return Promise.reject(new RangeError(`options.port must be an integer from 1 to ${MAX_PORT}`));
  return openSocket(host, port, timeoutMs).catch((err: Error) => {
    throw new DialError(host, port, err.message, err);
  });
}

/**
 * Listens for peers. Every accepted socket becomes an inbound
 * {@link PeerConnection} handed to `onConnection`.
 * @throws ListenError when the port cannot be bound.
 * @throws RangeError when `port` is not an integer from 0 to 65535.
 */
export async function listen(init: ListenInit): Promise<PeerListener> {
  const { host, port, onConnection, accept, ...connOptions } = init;
  let listener: PeerListener | undefined;
  const sockets = await listenSockets({
    ...(host !== undefined ? { host } : {}),
    port,
    onError: (err) => listener?.emit('error', err),
    onSocket: (socket) => {
      if (!listener) {
        socket.destroy();
        return;
      }
      const remote = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
      if (accept && !accept(remote)) {
        socket.destroy();
        return;
      }
      let conn: PeerConnection;
      try {
        conn = new PeerConnection({ ...connOptions, socket, direction: 'inbound', listenPort: listener.port });
      } catch (err) {
        socket.destroy();
        listener.emit('error', err as Error);
        return;
      }
      listener.track(conn);
      try {
        onConnection(conn);
      } catch (err) {
        void conn.close('internal-error', `onConnection threw: ${(err as Error)?.message}`);
        listener.emit('error', err as Error);
      }
    },
  });
  listener = new PeerListener(sockets);
  return listener;
}

/** Options of {@link dial}. */
export interface DialInit extends Omit<PeerConnectionInit, 'socket' | 'direction'> {
  host: string;
  port: number;
  /** @default CONNECT_TIMEOUT_MS (5000) */
  connectTimeoutMs?: number;
}

/**
 * Opens a TCP connection to a peer and returns it as an outbound
 * {@link PeerConnection}, which has already sent `<nodeId>:<listenPort>` and
 * runs the rest of the handshake by itself: subscribe to its events (or
 * await `conn.ready`) right away.
 * @throws DialError when the TCP connection cannot be opened within `connectTimeoutMs`.
 */
export function dial(init: DialInit): Promise<PeerConnection> {
  const { host, port, connectTimeoutMs, ...connOptions } = init;
  return connectSocket(host, port, connectTimeoutMs).then((socket) => {
    try {
      return new PeerConnection({ ...connOptions, socket, direction: 'outbound' });
    } catch (err) {
      socket.destroy();
      throw err;
    }
  });
}
