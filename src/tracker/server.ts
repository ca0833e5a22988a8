import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { networkId } from '../core/genesis.js';
import { hashToHex } from '../core/hash.js';
import { assertNever } from '../core/reject.js';
import { NETWORKS, type NetworkName } from '../core/params.js';
import type { PeerConnection } from '../transport/connection.js';
import { MAX_ADDR_ADDRESSES, NODE_ID_PATTERN } from '../transport/limits.js';
import { message, type AddrEntry, type Message } from '../transport/messages.js';
import { AddressPolicy } from '../transport/net-address.js';
import { listen, type PeerListener } from '../transport/tcp.js';
import {
  DEFAULT_HELLO_INTERVAL_MS,
  DEFAULT_HELLO_TIMEOUT_MS,
  DEFAULT_MAX_PROBES_PER_ROUND,
  LivenessLoop,
  MAX_TRACKER_FRAME_BYTES,
  probePeer,
  TRACKER_AGENT,
  trackerChainStatus,
  type LivenessRound,
  type ProbeFailureReason,
} from './liveness.js';
import { DEFAULT_MAX_MEMBERS, DEFAULT_MAX_MEMBERS_PER_SOURCE, MemberTable, type TrackerMember } from './member-table.js';
import { DEFAULT_TRACKER_PORT, encodeResponse, IDLE_FLUSH_MS, type TrackerResponse } from './protocol.js';
import { answerRequest, PARTIAL_REQUEST_TIMEOUT_MS, plainAddress, sourceKey, TextSession, type TextStep, type TrackerDirectory } from './text-session.js';

/*
 * The tracker (design.md, "Tracker"; source documents 001 and 004).
 *
 * Two TCP listeners:
 *   - `port` (default 9999) speaks the text protocol of document 001
 *     (protocol.ts): greeting, JOIN_CHAIN, GET_PEERS. It greets on connect,
 *     as 001 says, which is why the peer protocol cannot share the port: a
 *     peer-protocol dialer would read the greeting as the acceptor's id.
 *   - `peerPort` (default 9998) speaks the peer protocol (document 002
 *     framing, document 004 messages) as an acceptor: the id exchange,
 *     HELLO/HEY, and GETADDR answered with ADDR listing the members.
 *
 * The parts that decide are pure modules, glued here to sockets and timers:
 * the member table (member-table.ts), one text-protocol session per
 * connection (text-session.ts), and the liveness loop (liveness.ts).
 *
 * Liveness (document 004: "The tracker will send periodical HELLO requests to
 * all active members"): every `helloIntervalMs` the tracker dials each
 * member's HOST:PORT over the peer protocol (the transport's `dial`), sends
 * HELLO, and counts the member alive when the HELLO/HEY exchange completes
 * within `helloTimeoutMs`. A member that does not answer is removed at once;
 * its peer joins again (TrackerClient does this by itself).
 */

// ---------------------------------------------------------------------------
// Defaults and limits

/** @default '127.0.0.1' — interface both listeners bind (loopback: nothing is exposed by accident). */
export const DEFAULT_TRACKER_HOST = '127.0.0.1';
/** @default 9998 — TCP port of the tracker's peer-protocol listener (GETADDR); one below document 001's 9999. */
export const DEFAULT_TRACKER_PEER_PORT = 9998;
/** @default 'devnet' — network whose id the tracker's HELLO carries. */
export const DEFAULT_TRACKER_NETWORK: NetworkName = 'devnet';
/** @default 256 — most open connections per listener; further ones are closed at once. */
export const DEFAULT_MAX_CONNECTIONS = 256;
/**
 * @default 8 — most open connections per listener from one source (an IPv4
 * address, an IPv6 /64); loopback and `localRanges` are not limited.
 */
export const DEFAULT_MAX_CONNECTIONS_PER_SOURCE = 8;
/** A connection that sends nothing for this long is closed, ms. */
export const CONNECTION_IDLE_TIMEOUT_MS = 60_000;
/** Most reply bytes queued to a client that does not read; past it the connection is closed. */
export const MAX_PENDING_REPLY_BYTES = 4 * 1024 * 1024;
/** Silence after which the tracker PINGs a peer-protocol connection, ms (it holds them only for GETADDR). */
export const TRACKER_PING_INTERVAL_MS = 30_000;
/** After `end()`, how long a closing socket may take to flush before it is destroyed, ms. */
export const CLOSE_LINGER_MS = 1_000;

// ---------------------------------------------------------------------------
// Types

/** Options of {@link startTracker}. */
export interface TrackerInit {
  /** Interface of both listeners. @default {@link DEFAULT_TRACKER_HOST} */
  host?: string;
  /** Port of the text protocol; 0 picks a free one. @default {@link DEFAULT_TRACKER_PORT} */
  port?: number;
  /** Port of the peer protocol (GETADDR); 0 picks a free one. @default {@link DEFAULT_TRACKER_PEER_PORT} */
  peerPort?: number;
  /** Network whose id (genesis hash) the tracker's HELLO carries; members on another network hang up and are removed. @default {@link DEFAULT_TRACKER_NETWORK} */
  network?: NetworkName;
  /** Node id of the tracker on the peer protocol. @default `tracker-` + 16 random hex digits */
  trackerId?: string;
  /** Pause between liveness rounds, ms. @default {@link DEFAULT_HELLO_INTERVAL_MS} */
  helloIntervalMs?: number;
  /** Time a member has to answer a liveness HELLO, ms. @default {@link DEFAULT_HELLO_TIMEOUT_MS} */
  helloTimeoutMs?: number;
  /** Most members. @default {@link DEFAULT_MAX_MEMBERS} */
  maxMembers?: number;
  /** Most open connections per listener. @default {@link DEFAULT_MAX_CONNECTIONS} */
  maxConnections?: number;
  /** Most members joined from one source. @default {@link DEFAULT_MAX_MEMBERS_PER_SOURCE} */
  maxMembersPerSource?: number;
  /** Most open connections per listener from one source. @default {@link DEFAULT_MAX_CONNECTIONS_PER_SOURCE} */
  maxConnectionsPerSource?: number;
  /** Most members probed in one liveness round. @default {@link DEFAULT_MAX_PROBES_PER_ROUND} */
  maxProbesPerRound?: number;
  /** CIDR ranges that, like loopback, have no per-source quotas (a LAN of peers behind one tracker). @default [] */
  localRanges?: readonly string[];
  /** Silence after which a request without line end is answered, ms. @default {@link IDLE_FLUSH_MS} */
  idleFlushMs?: number;
  logger: Logger;
  /** Source of random bytes (peer ids, the default tracker id). @default node:crypto randomBytes */
  randomBytes?: (n: number) => Uint8Array;
  /** Clock, ms since the epoch. @default Date.now */
  now?: () => number;
}

/** Events of a running tracker, for logs, tests and summaries. */
export type TrackerEvent =
  | { type: 'joined'; member: TrackerMember; rejoin: boolean }
  | { type: 'removed'; member: TrackerMember; reason: ProbeFailureReason; detail: string }
  /** A member was evicted to make room for one from a smaller source. */
  | { type: 'evicted'; member: TrackerMember; for: TrackerMember }
  /** A connection was closed at once: its source holds `maxConnectionsPerSource` already. */
  | { type: 'connection-refused'; listener: 'text' | 'peer'; address: string }
  | { type: 'liveness-round'; round: LivenessRound };

/** A running tracker. */
export interface RunningTracker {
  /** Interface both listeners are bound to. */
  readonly host: string;
  /** Bound port of the text protocol (the real one when 0 was asked). */
  readonly port: number;
  /** Bound port of the peer protocol. */
  readonly peerPort: number;
  /** Node id on the peer protocol. */
  readonly trackerId: string;
  /** The members, in join order (a copy). */
  peers(): TrackerMember[];
  /** Runs a liveness round now (after the one in progress, if any) and resolves with its summary. */
  checkNow(): Promise<LivenessRound>;
  /** Subscribes to events; returns the unsubscribe function. A listener that throws is logged and ignored. */
  on(listener: (event: TrackerEvent) => void): () => void;
  /** Stops both listeners, the liveness loop and every connection and probe. Idempotent. */
  close(): Promise<void>;
}

/** Bad options given to {@link startTracker}. */
export class TrackerOptionError extends Error {
  override readonly name = 'TrackerOptionError';
  readonly code = 'ERR_TRACKER_OPTION';
}

// ---------------------------------------------------------------------------
// The tracker

function checkInt(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new TrackerOptionError(`options.${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  return value;
}

function listenText(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Starts a tracker: the text protocol of document 001 on `port`, the peer
 * protocol (GETADDR) on `peerPort`, and the liveness loop.
 * @throws TrackerOptionError for a bad option; the listen error (EADDRINUSE,
 *   EACCES) when a port cannot be bound (nothing is left running).
 */
export async function startTracker(init: TrackerInit): Promise<RunningTracker> {
  const host = init.host ?? DEFAULT_TRACKER_HOST;
  const network = init.network ?? DEFAULT_TRACKER_NETWORK;
  if (!(network in NETWORKS)) throw new TrackerOptionError(`options.network must be one of ${Object.keys(NETWORKS).join(', ')}, got ${JSON.stringify(network)}`);
  const helloIntervalMs = checkInt('helloIntervalMs', init.helloIntervalMs ?? DEFAULT_HELLO_INTERVAL_MS, 1, 24 * 3600_000);
  const helloTimeoutMs = checkInt('helloTimeoutMs', init.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS, 1, 600_000);
  const maxMembers = checkInt('maxMembers', init.maxMembers ?? DEFAULT_MAX_MEMBERS, 1, 10_000_000);
  const maxConnections = checkInt('maxConnections', init.maxConnections ?? DEFAULT_MAX_CONNECTIONS, 1, 1_000_000);
  const maxMembersPerSource = checkInt('maxMembersPerSource', init.maxMembersPerSource ?? DEFAULT_MAX_MEMBERS_PER_SOURCE, 1, 10_000_000);
  const maxConnectionsPerSource = checkInt('maxConnectionsPerSource', init.maxConnectionsPerSource ?? DEFAULT_MAX_CONNECTIONS_PER_SOURCE, 1, 1_000_000);
  const maxProbesPerRound = checkInt('maxProbesPerRound', init.maxProbesPerRound ?? DEFAULT_MAX_PROBES_PER_ROUND, 1, 10_000_000);
  let policy: AddressPolicy;
  try {
    policy = new AddressPolicy(init.localRanges ?? []);
  } catch (err) {
    throw new TrackerOptionError(`options.localRanges: ${(err as Error).message}`);
  }
  const idleFlushMs = checkInt('idleFlushMs', init.idleFlushMs ?? IDLE_FLUSH_MS, 1, 60_000);
  const port = checkInt('port', init.port ?? DEFAULT_TRACKER_PORT, 0, 65_535);
  const requestedPeerPort = checkInt('peerPort', init.peerPort ?? DEFAULT_TRACKER_PEER_PORT, 0, 65_535);
  const randomBytes = init.randomBytes ?? ((n: number) => new Uint8Array(cryptoRandomBytes(n)));
  const now = init.now ?? Date.now;
  const trackerId = init.trackerId ?? `tracker-${Buffer.from(randomBytes(8)).toString('hex')}`;
  if (!NODE_ID_PATTERN.test(trackerId)) throw new TrackerOptionError(`options.trackerId must be 1–128 characters of A-Z a-z 0-9 _ -, got ${JSON.stringify(trackerId)}`);
  const log = init.logger.child({ component: 'tracker' });

  const clock = { nowMs: now };
  const table = new MemberTable({ maxMembers, maxMembersPerSource, randomBytes, clock });
  const listeners = new Set<(event: TrackerEvent) => void>();
  const textSockets = new Set<Socket>();
  /** Open text connections per source key (non-exempt sources only). */
  const textPerSource = new Map<string, number>();
  const probes = new Set<PeerConnection>();
  let closed = false;

  const emit = (event: TrackerEvent): void => {
    for (const l of listeners) {
      try {
        l(event);
      } catch (err) {
        log.error({ err, event: event.type }, 'tracker event listener threw');
      }
    }
  };

  // ----- member table, as the text protocol sees it: joins are logged and reported -----

  const directory: TrackerDirectory = {
    join(request) {
      const result = table.join(request);
      if (!result.ok && result.code === 'SOURCE_FULL') log.info({ source: request.source?.key, host: request.host, port: request.port }, 'join refused: the source holds its quota');
      if (result.ok) {
        if (result.evicted) {
          log.info({ peerId: result.evicted.peerId, source: result.evicted.source, for: result.member.source }, 'peer evicted for a member of a smaller source');
          emit({ type: 'evicted', member: result.evicted, for: result.member });
        }
        if (!result.rejoin) log.info({ peerId: result.member.peerId, host: result.member.host, port: result.member.port, members: table.size }, 'peer joined');
        emit({ type: 'joined', member: result.member, rejoin: result.rejoin });
      }
      return result;
    },
    has: (peerId) => table.has(peerId),
    sample: (except, max) => table.sample(except, max),
  };
  const toAddr = (m: TrackerMember): AddrEntry => (m.nodeId !== undefined ? { host: m.host, port: m.port, nodeId: m.nodeId } : { host: m.host, port: m.port });
  const expectedNetwork = hashToHex(networkId(NETWORKS[network]));

  // ----- text protocol (document 001): a TextSession per connection, this glue owns the socket and timers -----

  const serveText = (socket: Socket): void => {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const remoteAddress = socket.remoteAddress;
    const session = new TextSession((request) => answerRequest(directory, request, remoteAddress, policy));
    let timer: NodeJS.Timeout | undefined;
    const send = (response: TrackerResponse): void => {
      if (response.type === 'error') log.debug({ remote, code: response.code }, 'tracker request refused');
      if (socket.destroyed || !socket.writable) return;
      socket.write(encodeResponse(response));
      if (socket.writableLength > MAX_PENDING_REPLY_BYTES) {
        log.warn({ remote }, 'tracker client does not read its replies; closing');
        socket.destroy();
      }
    };
    const apply = (step: TextStep): void => {
      clearTimeout(timer);
      timer = undefined;
      for (const r of step.replies) send(r);
      switch (step.next) {
        case 'read':
          return;
        case 'flush-when-idle':
          timer = setTimeout(() => apply(session.idle()), idleFlushMs);
          return;
        case 'give-up-when-idle':
          timer = setTimeout(() => apply(session.giveUp()), PARTIAL_REQUEST_TIMEOUT_MS);
          return;
        case 'close':
          socket.removeAllListeners('data');
          socket.end();
          // A client still sending (a line over the limit) gets a moment to read the error, no more.
          if (!socket.readableEnded) setTimeout(() => socket.destroy(), CLOSE_LINGER_MS).unref();
          return;
        default:
          assertNever(step.next);
      }
    };
    socket.setNoDelay(true);
    socket.setTimeout(CONNECTION_IDLE_TIMEOUT_MS, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => apply(session.receive(chunk)));
    // The client closed its sending side: the end of the stream ends an unterminated request too. Answer it, then close.
    socket.on('end', () => apply(session.end()));
    socket.on('error', (err: NodeJS.ErrnoException) => log.debug({ remote, err: err.code ?? err.message }, 'tracker client connection error'));
    socket.on('close', () => {
      clearTimeout(timer);
      textSockets.delete(socket);
    });
    apply(session.open());
  };
  // ----- peer protocol (document 002 framing, document 004 GETADDR), through the transport -----

  /** Connections whose GETADDR was answered: once per connection, as a peer does (Bitcoin Core answers one getaddr per connection). */
  const addrAnswered = new WeakSet<PeerConnection>();
  const onPeerMessage = (conn: PeerConnection, msg: Message): void => {
    switch (msg.method) {
      case 'GETADDR':
        if (addrAnswered.has(conn)) return;
        addrAnswered.add(conn);
        conn.send(message('ADDR', { addresses: table.sample(undefined, MAX_ADDR_ADDRESSES).map(toAddr) }));
        return;
      case 'HELLO':
      case 'HEY':
      case 'PING':
      case 'PONG':
        return; // answered by the connection itself
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
      case 'REJECT':
        // A tracker has no chain and relays nothing (its HELLO says role `tracker`): ignored, not punished.
        log.debug({ peer: conn.toString(), method: msg.method }, 'tracker ignores peer message');
        return;
      default:
        assertNever(msg);
    }
  };

  // ----- listeners -----

  // Half-open allowed: a client may shut down its sending side and still read the answer to its last request.
  /** The source key of `address` when it is limited, undefined for loopback and local ranges. */
  const limitedSource = (address: string | undefined): string | undefined => {
    const a = plainAddress(address);
    return a === undefined || policy.isExempt(a) ? undefined : sourceKey(a);
  };
  const refuseSource = (listenerName: 'text' | 'peer', address: string): void => {
    log.debug({ listener: listenerName, address }, 'tracker connection refused: the source holds its quota');
    emit({ type: 'connection-refused', listener: listenerName, address });
  };
  const textServer = createServer({ allowHalfOpen: true }, (socket: Socket) => {
    if (closed || textSockets.size >= maxConnections) {
      socket.destroy();
      return;
    }
    const source = limitedSource(socket.remoteAddress);
    if (source !== undefined) {
      const held = textPerSource.get(source) ?? 0;
      if (held >= maxConnectionsPerSource) {
        socket.destroy();
        refuseSource('text', source);
        return;
      }
      textPerSource.set(source, held + 1);
      socket.once('close', () => {
        const left = (textPerSource.get(source) ?? 1) - 1;
        if (left > 0) textPerSource.set(source, left);
        else textPerSource.delete(source);
      });
    }
    textSockets.add(socket);
    serveText(socket);
  });
  /** The peer listener's open connections from the source of `address` (at most `maxConnections`, counted per accept). */
  const peerAccept = (remote: { address: string }): boolean => {
    if (closed || (peerListener?.connections.size ?? 0) >= maxConnections) return false;
    const source = limitedSource(remote.address);
    if (source === undefined || peerListener === undefined) return true;
    let held = 0;
    for (const c of peerListener.connections) if (limitedSource(c.remoteAddress) === source) held++;
    if (held < maxConnectionsPerSource) return true;
    refuseSource('peer', source);
    return false;
  };
  let boundPort: number;
  let peerListener: PeerListener | undefined;
  try {
    boundPort = await listenText(textServer, host, port);
    peerListener = await listen({
      host,
      port: requestedPeerPort,
      nodeId: trackerId,
      network: expectedNetwork,
      status: () => trackerChainStatus(network),
      role: 'tracker',
      agent: TRACKER_AGENT,
      maxFrameBytes: MAX_TRACKER_FRAME_BYTES,
      pingIntervalMs: TRACKER_PING_INTERVAL_MS,
      clock,
      accept: peerAccept,
      onConnection: (conn) => {
        conn.on('node_message', onPeerMessage);
        conn.on('inbound_node_disconnected', (c, info) => log.debug({ peer: c.toString(), reason: info.reason, detail: info.message }, 'tracker peer connection ended'));
      },
    });
  } catch (err) {
    textServer.close();
    throw err;
  }
  const listener = peerListener;
  listener.on('error', (err) => log.warn({ err }, 'tracker peer listener error'));

  // ----- liveness -----

  const liveness = new LivenessLoop({
    table,
    probe: (member) => probePeer(member, { trackerId, network, timeoutMs: helloTimeoutMs, now, connections: probes }),
    intervalMs: helloIntervalMs,
    maxProbesPerRound,
    clock,
    onRemoved: (member, reason, detail) => {
      log.info({ peerId: member.peerId, host: member.host, port: member.port, reason, detail, members: table.size }, 'peer removed: no answer to HELLO');
      emit({ type: 'removed', member, reason, detail });
    },
    onRound: (round) => {
      log.debug(round, 'liveness round');
      emit({ type: 'liveness-round', round });
    },
    onError: (err) => log.error({ err }, 'liveness round failed'),
  });
  liveness.start();

  log.info({ host, port: boundPort, peerPort: listener.port, trackerId, network, helloIntervalMs, helloTimeoutMs, maxMembersPerSource, maxConnectionsPerSource, maxProbesPerRound }, 'tracker listening');

  let closing: Promise<void> | undefined;
  return {
    host,
    port: boundPort,
    peerPort: listener.port,
    trackerId,
    peers: () => table.snapshot(),
    checkNow: () => liveness.checkNow(),
    on(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      closing ??= (async () => {
        closed = true;
        const livenessStopped = liveness.stop();
        const stopped = Promise.all([new Promise<void>((resolve) => textServer.close(() => resolve())), listener.close()]);
        for (const s of textSockets) s.destroy();
        await Promise.all([...probes].map((c) => c.close('shutdown', 'the tracker is stopping')));
        await stopped;
        await livenessStopped;
        listeners.clear();
        log.info('tracker stopped');
      })();
      return closing;
    },
  };
}
