import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { createServer, isIPv6, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { genesisBlock, networkId } from '../core/genesis.js';
import { hashToHex } from '../core/hash.js';
import { assertNever } from '../core/reject.js';
import { NETWORKS, type NetworkName } from '../core/params.js';
import { workFromBits } from '../core/pow.js';
import type { ChainStatus, DisconnectReason, PeerConnection } from '../transport/connection.js';
import { MAX_ADDR_ADDRESSES, NODE_ID_PATTERN } from '../transport/limits.js';
import { message, type AddrEntry, type Message } from '../transport/messages.js';
import { dial, listen, type PeerListener } from '../transport/tcp.js';
import {
  classifyPartial,
  DEFAULT_TRACKER_PORT,
  encodeResponse,
  IDLE_FLUSH_MS,
  LineDecoder,
  makePeerId,
  MAX_PEERS_PER_REPLY,
  MAX_REQUEST_LINE_BYTES,
  parseRequest,
  PID_RANDOM_BYTES,
  type TrackerErrorCode,
  type TrackerPeer,
  type TrackerRequest,
  type TrackerResponse,
} from './protocol.js';

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
/** @default 5000 — pause between two liveness rounds, ms (measured from the end of one round to the start of the next). */
export const DEFAULT_HELLO_INTERVAL_MS = 5_000;
/** @default 2000 — time a member has to accept the connection, send its id and answer HELLO, ms. */
export const DEFAULT_HELLO_TIMEOUT_MS = 2_000;
/** @default 10000 — most members in the table; JOIN_CHAIN beyond it is answered `ERROR TRACKER_FULL`. */
export const DEFAULT_MAX_MEMBERS = 10_000;
/** @default 256 — most open connections per listener; further ones are closed at once. */
export const DEFAULT_MAX_CONNECTIONS = 256;
/** A connection that sends nothing for this long is closed, ms. */
export const CONNECTION_IDLE_TIMEOUT_MS = 60_000;
/**
 * A request without line end that is still only a prefix of a valid command
 * (`JOIN_CHAIN:localhost`) this long after its last byte is answered
 * `ERROR MALFORMED` and dropped, ms. Keeps a client that forgot a field from
 * waiting forever.
 */
export const PARTIAL_REQUEST_TIMEOUT_MS = 5_000;
/** Most reply bytes queued to a client that does not read; past it the connection is closed. */
export const MAX_PENDING_REPLY_BYTES = 4 * 1024 * 1024;
/** Most liveness probes in flight at once. */
export const MAX_CONCURRENT_PROBES = 32;
/** Largest peer-protocol frame the tracker accepts, bytes: it only handles HELLO, HEY, GETADDR and PING, all small. */
export const MAX_TRACKER_FRAME_BYTES = 64 * 1024;
/** Silence after which the tracker PINGs a peer-protocol connection, ms (it holds them only for GETADDR). */
export const TRACKER_PING_INTERVAL_MS = 30_000;
/** After a liveness probe, how long its connection may take to close gracefully before it is destroyed, ms. */
export const PROBE_CLOSE_LINGER_MS = 250;
/** Agent string of the tracker's HELLO. */
export const TRACKER_AGENT = 'cheesechain-tracker/0.1';
/** Peer ids drawn before giving up on a unique one (a collision of 128 random bits never happens; this bounds a broken RNG). */
export const MAX_PID_DRAWS = 8;
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
  /** Silence after which a request without line end is answered, ms. @default {@link IDLE_FLUSH_MS} */
  idleFlushMs?: number;
  logger: Logger;
  /** Source of random bytes (peer ids, the default tracker id). @default node:crypto randomBytes */
  randomBytes?: (n: number) => Uint8Array;
  /** Clock, ms since the epoch. @default Date.now */
  now?: () => number;
}

/** One member of the tracker's table. */
export interface TrackerMember extends TrackerPeer {
  /** When it joined, ms since the epoch. */
  joinedAt: number;
  /** Last liveness HELLO it answered, ms since the epoch; undefined before its first check. */
  lastAliveAt: number | undefined;
  /** Node id it gave in the peer protocol's id exchange at its last liveness check; undefined before. */
  nodeId: string | undefined;
}

/**
 * Why a liveness probe failed: `connect-failed` (the TCP connect was refused,
 * unreachable or timed out), or how the peer-protocol connection ended before
 * its HELLO/HEY exchange completed (`handshake-timeout`, `remote-closed` — a
 * member on another network hangs up —, `wrong-network`, `bad-id-line`,
 * `unexpected-message`, … see the transport's DisconnectReason).
 */
export type ProbeFailureReason = 'connect-failed' | DisconnectReason;

/** Outcome of one liveness probe. */
export type ProbeResult = { alive: true; nodeId: string } | { alive: false; reason: ProbeFailureReason; detail: string };

/** Summary of one liveness round. */
export interface LivenessRound {
  checked: number;
  alive: number;
  /** Peer ids removed in this round. */
  removed: string[];
  /** Duration of the round, ms. */
  ms: number;
}

/** Events of a running tracker, for logs, tests and summaries. */
export type TrackerEvent =
  | { type: 'joined'; member: TrackerMember; rejoin: boolean }
  | { type: 'removed'; member: TrackerMember; reason: ProbeFailureReason; detail: string }
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
// Peer-protocol pieces the tracker uses (document 002 framing, 004 messages,
// through the transport's codecs)

/** What the tracker's HELLO/HEY report as its chain: it has none, so the genesis block of its network. */
function genesisStatus(network: NetworkName): ChainStatus {
  const params = NETWORKS[network];
  return { height: 0, tip: hashToHex(networkId(params)), chainWork: workFromBits(genesisBlock(params).header.bits) };
}

/** Options of {@link probePeer}. */
export interface ProbeOptions {
  /** The tracker's node id in the id line and HELLO. */
  trackerId: string;
  /** Network whose id the HELLO carries. */
  network: NetworkName;
  /** Budget of the whole probe (connect and HELLO/HEY exchange), ms. */
  timeoutMs: number;
  now?: () => number;
  /** Open probe connections are added here while they last (so the tracker can end them when it closes). */
  connections?: Set<PeerConnection>;
}

/**
 * One liveness probe (document 004: "The tracker will send periodical HELLO
 * requests to all active members"): dials `host:port` with the transport,
 * which sends the id line `<trackerId>:0` (document 002; port 0 because the
 * tracker takes no peer connections from this exchange) and HELLO with role
 * `tracker`; the member is alive when the three-way HELLO/HEY exchange
 * completes within `timeoutMs`. The connection is then closed. Never throws.
 */
export async function probePeer(target: { host: string; port: number }, options: ProbeOptions): Promise<ProbeResult> {
  const now = options.now ?? Date.now;
  const deadline = now() + options.timeoutMs;
  let conn: PeerConnection;
  try {
    conn = await dial({
      host: target.host,
      port: target.port,
      connectTimeoutMs: options.timeoutMs,
      nodeId: options.trackerId,
      listenPort: 0,
      network: hashToHex(networkId(NETWORKS[options.network])),
      status: () => genesisStatus(options.network),
      role: 'tracker',
      agent: TRACKER_AGENT,
      handshakeTimeoutMs: Math.max(1, deadline - now()),
      maxFrameBytes: MAX_TRACKER_FRAME_BYTES,
      closeLingerMs: PROBE_CLOSE_LINGER_MS,
      now,
    });
  } catch (err) {
    return { alive: false, reason: 'connect-failed', detail: (err as Error).message };
  }
  options.connections?.add(conn);
  // `ready` rejects when the connection has ended before the exchange completed (`closed` says why);
  // the timer caps a member that neither answers nor hangs up, whose socket would otherwise linger.
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    conn.ready.then(
      (): ProbeResult => ({ alive: true, nodeId: conn.remoteNodeId ?? '' }),
      () => conn.closed.then((info): ProbeResult => ({ alive: false, reason: info.reason, detail: info.message })),
    ),
    new Promise<ProbeResult>((resolve) => {
      timer = setTimeout(
        () => resolve({ alive: false, reason: 'handshake-timeout', detail: `HELLO/HEY exchange not completed within ${options.timeoutMs} ms` }),
        Math.max(1, deadline - now()),
      );
    }),
  ]);
  clearTimeout(timer);
  // Not awaited: a graceful close may linger while the member reads; the round goes on.
  void conn.close('local-close', 'tracker liveness check done').then(() => options.connections?.delete(conn));
  return outcome;
}

// ---------------------------------------------------------------------------
// The tracker

function checkInt(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new TrackerOptionError(`options.${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  return value;
}

/** Strips the IPv4-mapped prefix Node gives IPv4 clients of a dual-stack socket. */
function plainAddress(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  return address.startsWith('::ffff:') && !isIPv6(address.slice(7)) ? address.slice(7) : address;
}

/** Hosts that mean "every interface": a member joining with one is recorded at the address its connection came from. */
const UNSPECIFIED_HOSTS = new Set(['0.0.0.0', '::']);

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
  const idleFlushMs = checkInt('idleFlushMs', init.idleFlushMs ?? IDLE_FLUSH_MS, 1, 60_000);
  const port = checkInt('port', init.port ?? DEFAULT_TRACKER_PORT, 0, 65_535);
  const requestedPeerPort = checkInt('peerPort', init.peerPort ?? DEFAULT_TRACKER_PEER_PORT, 0, 65_535);
  const randomBytes = init.randomBytes ?? ((n: number) => new Uint8Array(cryptoRandomBytes(n)));
  const now = init.now ?? Date.now;
  const trackerId = init.trackerId ?? `tracker-${Buffer.from(randomBytes(8)).toString('hex')}`;
  if (!NODE_ID_PATTERN.test(trackerId)) throw new TrackerOptionError(`options.trackerId must be 1–128 characters of A-Z a-z 0-9 _ -, got ${JSON.stringify(trackerId)}`);
  const log = init.logger.child({ component: 'tracker' });

  /** Members by peer id, in join order. */
  const members = new Map<string, TrackerMember>();
  /** `host|port` → peer id, so a peer joining again from the same address gets its PID back. */
  const byAddress = new Map<string, string>();
  const listeners = new Set<(event: TrackerEvent) => void>();
  const textSockets = new Set<Socket>();
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

  // ----- member table -----

  const addressKey = (h: string, p: number): string => `${h}|${p}`;

  const newPeerId = (): string | undefined => {
    for (let i = 0; i < MAX_PID_DRAWS; i++) {
      const id = makePeerId(randomBytes(PID_RANDOM_BYTES));
      if (!members.has(id)) return id;
    }
    return undefined;
  };

  const join = (joinHost: string, joinPort: number): { ok: true; peerId: string } | { ok: false; code: TrackerErrorCode; message: string } => {
    const existing = byAddress.get(addressKey(joinHost, joinPort));
    if (existing !== undefined) {
      const member = members.get(existing)!;
      emit({ type: 'joined', member: { ...member }, rejoin: true });
      return { ok: true, peerId: existing };
    }
    if (members.size >= maxMembers) return { ok: false, code: 'TRACKER_FULL', message: `the tracker holds ${maxMembers} members` };
    const peerId = newPeerId();
    if (peerId === undefined) return { ok: false, code: 'TRACKER_FULL', message: 'no unique peer id could be drawn' };
    const member: TrackerMember = { peerId, host: joinHost, port: joinPort, joinedAt: now(), lastAliveAt: undefined, nodeId: undefined };
    members.set(peerId, member);
    byAddress.set(addressKey(joinHost, joinPort), peerId);
    log.info({ peerId, host: joinHost, port: joinPort, members: members.size }, 'peer joined');
    emit({ type: 'joined', member: { ...member }, rejoin: false });
    return { ok: true, peerId };
  };

  const remove = (member: TrackerMember, reason: ProbeFailureReason, detail: string): void => {
    if (members.get(member.peerId) !== member) return;
    members.delete(member.peerId);
    byAddress.delete(addressKey(member.host, member.port));
    log.info({ peerId: member.peerId, host: member.host, port: member.port, reason, detail, members: members.size }, 'peer removed: no answer to HELLO');
    emit({ type: 'removed', member: { ...member }, reason, detail });
  };

  /** Up to `max` members other than `except`, a uniform sample (injected randomness) when there are more. */
  const sampleMembers = (except: string | undefined, max: number): TrackerMember[] => {
    const all: TrackerMember[] = [];
    for (const m of members.values()) if (m.peerId !== except) all.push(m);
    if (all.length <= max) return all;
    // Partial Fisher–Yates.
    const r = randomBytes(4 * max);
    const view = new DataView(r.buffer, r.byteOffset, r.byteLength);
    for (let i = 0; i < max; i++) {
      const j = i + (view.getUint32(4 * i) % (all.length - i));
      [all[i], all[j]] = [all[j]!, all[i]!];
    }
    return all.slice(0, max);
  };
  const toPeer = (m: TrackerMember): TrackerPeer => ({ peerId: m.peerId, host: m.host, port: m.port });
  const toAddr = (m: TrackerMember): AddrEntry => (m.nodeId !== undefined ? { host: m.host, port: m.port, nodeId: m.nodeId } : { host: m.host, port: m.port });
  const expectedNetwork = hashToHex(networkId(NETWORKS[network]));

  // ----- text protocol (document 001) -----

  const answer = (socket: Socket, request: TrackerRequest): TrackerResponse => {
    switch (request.type) {
      case 'join': {
        const remote = plainAddress(socket.remoteAddress);
        const joinHost = UNSPECIFIED_HOSTS.has(request.host) && remote !== undefined ? remote : request.host;
        const result = join(joinHost, request.port);
        return result.ok ? { type: 'joined', peerId: result.peerId } : { type: 'error', code: result.code, message: result.message };
      }
      case 'get-peers': {
        if (!members.has(request.peerId)) return { type: 'error', code: 'UNKNOWN_PEER', message: 'unknown peer id; send JOIN_CHAIN:HOST:PORT' };
        return { type: 'peers', peers: sampleMembers(request.peerId, MAX_PEERS_PER_REPLY).map(toPeer) };
      }
    }
  };

  const serveText = (socket: Socket): void => {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const decoder = new LineDecoder(MAX_REQUEST_LINE_BYTES);
    let flushTimer: NodeJS.Timeout | undefined;
    let giveUpTimer: NodeJS.Timeout | undefined;
    const send = (response: TrackerResponse): void => {
      if (socket.destroyed || !socket.writable) return;
      socket.write(encodeResponse(response));
      if (socket.writableLength > MAX_PENDING_REPLY_BYTES) {
        log.warn({ remote }, 'tracker client does not read its replies; closing');
        socket.destroy();
      }
    };
    const handleLine = (line: string): void => {
      const text = line.endsWith('\r') ? line.slice(0, -1) : line;
      if (text.length === 0) return; // a bare line end, e.g. the CRLF after a request the idle flush already answered
      const parsed = parseRequest(text);
      if (!parsed.ok) {
        log.debug({ remote, code: parsed.code }, 'bad tracker request');
        send({ type: 'error', code: parsed.code, message: parsed.message });
        return;
      }
      send(answer(socket, parsed.request));
    };
    const clearTimers = (): void => {
      clearTimeout(flushTimer);
      clearTimeout(giveUpTimer);
      flushTimer = giveUpTimer = undefined;
    };
    const flush = (): void => {
      flushTimer = undefined;
      const state = classifyPartial(decoder.peekPartial());
      switch (state) {
        case 'complete':
          handleLine(decoder.takePartial());
          return;
        case 'invalid': {
          const parsed = parseRequest(decoder.takePartial());
          send(parsed.ok ? { type: 'error', code: 'MALFORMED', message: 'bad request' } : { type: 'error', code: parsed.code, message: parsed.message });
          return;
        }
        case 'incomplete':
          giveUpTimer = setTimeout(() => {
            giveUpTimer = undefined;
            decoder.takePartial();
            send({ type: 'error', code: 'MALFORMED', message: `incomplete request, nothing more came within ${PARTIAL_REQUEST_TIMEOUT_MS} ms` });
          }, PARTIAL_REQUEST_TIMEOUT_MS);
          return;
        default:
          assertNever(state);
      }
    };
    socket.setNoDelay(true);
    socket.setTimeout(CONNECTION_IDLE_TIMEOUT_MS, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      clearTimers();
      const step = decoder.push(chunk);
      for (const line of step.lines) handleLine(line);
      if (step.overflow) {
        log.debug({ remote }, 'tracker request over the line limit; closing');
        send({ type: 'error', code: 'REQUEST_TOO_LONG', message: `a request is at most ${MAX_REQUEST_LINE_BYTES} bytes` });
        socket.removeAllListeners('data');
        socket.end();
        setTimeout(() => socket.destroy(), CLOSE_LINGER_MS).unref();
        return;
      }
      if (decoder.partialBytes > 0) flushTimer = setTimeout(flush, idleFlushMs);
    });
    socket.on('end', () => {
      // The client closed its sending side: the end of the stream ends an unterminated request too. Answer it, then close.
      clearTimers();
      if (decoder.partialBytes > 0) handleLine(decoder.takePartial());
      socket.end();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => log.debug({ remote, err: err.code ?? err.message }, 'tracker client connection error'));
    socket.on('close', () => {
      clearTimers();
      textSockets.delete(socket);
    });
    send({ type: 'greeting' });
  };

  // ----- peer protocol (document 002 framing, document 004 GETADDR), through the transport -----

  const onPeerMessage = (conn: PeerConnection, msg: Message): void => {
    switch (msg.method) {
      case 'GETADDR':
        conn.send(message('ADDR', { addresses: sampleMembers(undefined, MAX_ADDR_ADDRESSES).map(toAddr) }));
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
  const textServer = createServer({ allowHalfOpen: true }, (socket: Socket) => {
    if (closed || textSockets.size >= maxConnections) {
      socket.destroy();
      return;
    }
    textSockets.add(socket);
    serveText(socket);
  });
  let boundPort: number;
  let peerListener: PeerListener | undefined;
  try {
    boundPort = await listenText(textServer, host, port);
    peerListener = await listen({
      host,
      port: requestedPeerPort,
      nodeId: trackerId,
      network: expectedNetwork,
      status: () => genesisStatus(network),
      role: 'tracker',
      agent: TRACKER_AGENT,
      maxFrameBytes: MAX_TRACKER_FRAME_BYTES,
      pingIntervalMs: TRACKER_PING_INTERVAL_MS,
      now,
      accept: () => !closed && (peerListener?.connections.size ?? 0) < maxConnections,
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

  const runRound = async (): Promise<LivenessRound> => {
    const started = now();
    const snapshot = [...members.values()];
    const removed: string[] = [];
    let alive = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (!closed && next < snapshot.length) {
        const member = snapshot[next++]!;
        const result = await probePeer(member, { trackerId, network, timeoutMs: helloTimeoutMs, now, connections: probes });
        if (closed) return;
        if (result.alive) {
          alive++;
          member.lastAliveAt = now();
          member.nodeId = result.nodeId;
        } else if (members.get(member.peerId) === member) {
          removed.push(member.peerId);
          remove(member, result.reason, result.detail);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(MAX_CONCURRENT_PROBES, snapshot.length) }, worker));
    const round: LivenessRound = { checked: snapshot.length, alive, removed, ms: now() - started };
    log.debug(round, 'liveness round');
    emit({ type: 'liveness-round', round });
    return round;
  };

  let chain: Promise<unknown> = Promise.resolve();
  const checkNow = (): Promise<LivenessRound> => {
    const round = chain.then(runRound);
    chain = round.catch(() => undefined);
    return round;
  };
  let loopTimer: NodeJS.Timeout | undefined;
  const scheduleRound = (): void => {
    if (closed) return;
    loopTimer = setTimeout(() => {
      loopTimer = undefined;
      checkNow().then(scheduleRound, (err: unknown) => {
        log.error({ err }, 'liveness round failed');
        scheduleRound();
      });
    }, helloIntervalMs);
  };
  scheduleRound();

  log.info({ host, port: boundPort, peerPort: listener.port, trackerId, network, helloIntervalMs, helloTimeoutMs }, 'tracker listening');

  let closing: Promise<void> | undefined;
  return {
    host,
    port: boundPort,
    peerPort: listener.port,
    trackerId,
    peers: () => [...members.values()].map((m) => ({ ...m })),
    checkNow,
    on(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      closing ??= (async () => {
        closed = true;
        clearTimeout(loopTimer);
        const stopped = Promise.all([new Promise<void>((resolve) => textServer.close(() => resolve())), listener.close()]);
        for (const s of textSockets) s.destroy();
        await Promise.all([...probes].map((c) => c.close('shutdown', 'the tracker is stopping')));
        await stopped;
        await chain;
        listeners.clear();
        log.info('tracker stopped');
      })();
      return closing;
    },
  };
}
