import { connect } from 'node:net';
import type { Clock } from '../core/clock.js';
import { genesisBlock, networkId } from '../core/genesis.js';
import { hashToHex } from '../core/hash.js';
import { NETWORKS, type NetworkName } from '../core/params.js';
import { workFromBits } from '../core/pow.js';
import type { ChainStatus, DisconnectReason, PeerConnection } from '../transport/connection.js';
import { dial } from '../transport/tcp.js';
import type { MemberTable, TrackerMember } from './member-table.js';

/** @default 5000 — pause between two liveness rounds, ms (measured from the end of one round to the start of the next). */
export const DEFAULT_HELLO_INTERVAL_MS = 5_000;
/** @default 2000 — time a member has to accept the connection, send its id and answer HELLO, ms. */
export const DEFAULT_HELLO_TIMEOUT_MS = 2_000;
/** Most liveness probes in flight at once. */
export const MAX_CONCURRENT_PROBES = 32;
/**
 * @default 1000 — most members probed in one liveness round: the members
 * checked longest ago (never checked first) are probed, the rest wait for
 * the next round, so a round's cost does not grow with the table.
 */
export const DEFAULT_MAX_PROBES_PER_ROUND = 1_000;
/** Largest peer-protocol frame the tracker accepts, bytes: it only handles HELLO, HEY, GETADDR and PING, all small. */
export const MAX_TRACKER_FRAME_BYTES = 64 * 1024;
/** After a liveness probe, how long its connection may take to close gracefully before it is destroyed, ms. */
export const PROBE_CLOSE_LINGER_MS = 250;
/** Agent string of the tracker's HELLO. */
export const TRACKER_AGENT = 'cheesechain-tracker/0.1';

/**
 * Why a liveness probe failed: `connect-failed` (the TCP connect was refused,
 * unreachable or timed out), or how the peer-protocol connection ended before
 * its HELLO/HEY exchange completed (`handshake-timeout`, `remote-closed` — a
 * member on another network hangs up —, `wrong-network`, `bad-id-line`,
 * `unexpected-message`, … see the transport's DisconnectReason).
 */
export type ProbeFailureReason = 'connect-failed' | DisconnectReason;

/**
 * Outcome of one liveness probe. `seed001` is set when the member answered
 * document 001's greeting instead of HELLO (a peer written from seed 001
 * alone); `nodeId` is then the PID of its greeting.
 */
export type ProbeResult = { alive: true; nodeId: string; seed001?: true } | { alive: false; reason: ProbeFailureReason; detail: string };

/** Greeting of a seed-001 peer (document 001, "CONNECT TO PEER"): `Connection to peer [PID]`. */
const SEED001_GREETING = /^Connection to peer \[([^\]\r\n]*)\]/;
/** Most bytes read from a member while waiting for a seed-001 greeting. */
const MAX_GREETING_BYTES = 512;

/** Summary of one liveness round. */
export interface LivenessRound {
  checked: number;
  alive: number;
  /** Peer ids removed in this round. */
  removed: string[];
  /** Duration of the round, ms. */
  ms: number;
}

/** What the tracker's HELLO/HEY report as its chain: it has none, so the genesis block of its network. */
export function trackerChainStatus(network: NetworkName): ChainStatus {
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
      status: () => trackerChainStatus(options.network),
      role: 'tracker',
      agent: TRACKER_AGENT,
      handshakeTimeoutMs: Math.max(1, deadline - now()),
      maxFrameBytes: MAX_TRACKER_FRAME_BYTES,
      closeLingerMs: PROBE_CLOSE_LINGER_MS,
      clock: { nowMs: now },
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
  // A member that answered our id line with something that is not an id may be a seed-001 peer: it greets first.
  if (!outcome.alive && outcome.reason === 'bad-id-line') {
    const greeting = await probeSeed001Greeting(target, options.timeoutMs);
    if (greeting !== undefined) return { alive: true, nodeId: greeting, seed001: true };
  }
  return outcome;
}

/**
 * Connects and waits, without sending anything, for document 001's peer
 * greeting `Connection to peer [PID]` (a cheesechain peer sends it too after
 * a moment of silence). Resolves the PID, or undefined when something else,
 * nothing, or more than 512 bytes without it arrive within `timeoutMs`.
 */
export function probeSeed001Greeting(target: { host: string; port: number }, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: target.host, port: target.port });
    let text = '';
    const done = (pid: string | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(pid);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
      const m = SEED001_GREETING.exec(text);
      if (m) done(m[1]);
      else if (text.length > MAX_GREETING_BYTES || text.includes('\n')) done(undefined);
    });
    socket.on('error', () => done(undefined));
    socket.on('close', () => done(undefined));
  });
}

/** Options of a {@link LivenessLoop}. */
export interface LivenessInit {
  /** The members to check; dead ones are removed from it. */
  table: MemberTable;
  /** Checks one member (the tracker uses {@link probePeer}). Must not throw. */
  probe: (member: TrackerMember) => Promise<ProbeResult>;
  /** Pause between the end of one round and the start of the next, ms. */
  intervalMs: number;
  /** Most probes in flight at once. @default {@link MAX_CONCURRENT_PROBES} */
  maxConcurrent?: number;
  /** Most members probed in one round. @default {@link DEFAULT_MAX_PROBES_PER_ROUND} */
  maxProbesPerRound?: number;
  /** The clock of `lastAliveAt` and round durations. */
  clock: Clock;
  /** A member failed its probe and was removed (called during the round, as it happens). */
  onRemoved?: (member: TrackerMember, reason: ProbeFailureReason, detail: string) => void;
  /** A round ended. */
  onRound?: (round: LivenessRound) => void;
  /** A scheduled round failed (a probe or a callback threw); the loop goes on. */
  onError?: (err: unknown) => void;
}

/**
 * The tracker's liveness loop (document 004: "The tracker will send
 * periodical HELLO requests to all active members"): each round probes the
 * `maxProbesPerRound` members present when it starts that were checked
 * longest ago (never checked first, then by their last answer; all of them
 * when the table is no larger), at most `maxConcurrent` at a time; an alive
 * member's `lastAliveAt` and `nodeId` are updated, a member that fails is
 * removed at once (unless it left or was replaced meanwhile). Rounds never
 * overlap: {@link checkNow} queues behind the round in progress. The next
 * scheduled round starts `intervalMs` after the previous one ends.
 */
export class LivenessLoop {
  private readonly maxConcurrent: number;
  private readonly maxProbesPerRound: number;
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private started = false;

  /** @throws RangeError when `intervalMs`, `maxConcurrent` or `maxProbesPerRound` is not a positive integer. */
  constructor(private readonly init: LivenessInit) {
    this.maxConcurrent = init.maxConcurrent ?? MAX_CONCURRENT_PROBES;
    if (!Number.isSafeInteger(this.maxConcurrent) || this.maxConcurrent < 1) throw new RangeError('options.maxConcurrent must be a positive integer');
    this.maxProbesPerRound = init.maxProbesPerRound ?? DEFAULT_MAX_PROBES_PER_ROUND;
    if (!Number.isSafeInteger(this.maxProbesPerRound) || this.maxProbesPerRound < 1) throw new RangeError('options.maxProbesPerRound must be a positive integer');
    if (!Number.isSafeInteger(init.intervalMs) || init.intervalMs < 1) throw new RangeError('options.intervalMs must be a positive integer');
  }

  /** Schedules the first round `intervalMs` from now, then one after each. Idempotent. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.scheduleRound();
  }

  /** Runs a round now (after the one in progress, if any) and resolves with its summary. */
  checkNow(): Promise<LivenessRound> {
    const round = this.chain.then(() => this.runRound());
    this.chain = round.catch(() => undefined);
    return round;
  }

  /**
   * Schedules no more rounds; the round in progress probes no further
   * member and changes nothing more. Resolves when it has ended (a probe in
   * flight is awaited: close its connection to end it sooner). Idempotent.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.chain;
  }

  private scheduleRound(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.checkNow().then(
        () => this.scheduleRound(),
        (err: unknown) => {
          this.init.onError?.(err);
          this.scheduleRound();
        },
      );
    }, this.init.intervalMs);
  }

  private async runRound(): Promise<LivenessRound> {
    const { table, probe, clock } = this.init;
    const started = clock.nowMs();
    const members = table.list();
    // Stable sort: never-checked members in join order first, then the longest unchecked.
    const snapshot =
      members.length <= this.maxProbesPerRound ? members : members.sort((a, b) => (a.lastAliveAt ?? -Infinity) - (b.lastAliveAt ?? -Infinity)).slice(0, this.maxProbesPerRound);
    const removed: string[] = [];
    let alive = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (!this.stopped && next < snapshot.length) {
        const member = snapshot[next++]!;
        const result = await probe(member);
        if (this.stopped) return;
        if (result.alive) {
          alive++;
          table.markAlive(member, result.nodeId, clock.nowMs());
        } else if (table.remove(member)) {
          removed.push(member.peerId);
          this.init.onRemoved?.({ ...member }, result.reason, result.detail);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.maxConcurrent, snapshot.length) }, worker));
    const round: LivenessRound = { checked: snapshot.length, alive, removed, ms: clock.nowMs() - started };
    this.init.onRound?.(round);
    return round;
  }
}
