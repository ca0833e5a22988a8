import type { Clock } from '../core/clock.js';
import { makePeerId, PID_RANDOM_BYTES, type TrackerErrorCode, type TrackerPeer } from './protocol.js';

/** @default 10000 — most members in the table; JOIN_CHAIN beyond it is answered `ERROR TRACKER_FULL`. */
export const DEFAULT_MAX_MEMBERS = 10_000;
/** Peer ids drawn before giving up on a unique one (a collision of 128 random bits never happens; this bounds a broken RNG). */
export const MAX_PID_DRAWS = 8;

/** One member of the tracker's table. */
export interface TrackerMember extends TrackerPeer {
  /** When it joined, ms since the epoch. */
  joinedAt: number;
  /** Last liveness HELLO it answered, ms since the epoch; undefined before its first check. */
  lastAliveAt: number | undefined;
  /** Node id it gave in the peer protocol's id exchange at its last liveness check; undefined before. */
  nodeId: string | undefined;
}

/** A JOIN_CHAIN as the table sees it: where the member listens for the peer protocol. */
export interface JoinRequest {
  /** Host the member listens on (IPv6 without brackets), already resolved from an unspecified address. */
  host: string;
  /** Its peer-protocol port, 1–65535. */
  port: number;
}

/**
 * Result of {@link MemberTable.join}: the member (a copy) and whether it was
 * already in the table at that address, or the error line to answer with.
 */
export type JoinResult =
  | { ok: true; member: TrackerMember; rejoin: boolean }
  | { ok: false; code: TrackerErrorCode; message: string };

/** Options of a {@link MemberTable}. */
export interface MemberTableInit {
  /** Most members. @default {@link DEFAULT_MAX_MEMBERS} */
  maxMembers?: number;
  /** Source of random bytes (peer ids, sampling). */
  randomBytes: (n: number) => Uint8Array;
  /** The clock of `joinedAt`. */
  clock: Clock;
}

/**
 * The tracker's members (document 001: JOIN_CHAIN hands out a PID, GET_PEERS
 * lists the others), pure: no sockets, no timers; randomness and the clock
 * are injected. Peer ids are unique; a peer joining again from the same
 * HOST:PORT gets its PID back; the table holds at most `maxMembers`.
 * Iteration is in join order.
 */
export class MemberTable {
  /** Members by peer id, in join order. */
  private readonly members = new Map<string, TrackerMember>();
  /** `host|port` → peer id, so a peer joining again from the same address gets its PID back. */
  private readonly byAddress = new Map<string, string>();
  readonly maxMembers: number;
  private readonly randomBytes: (n: number) => Uint8Array;
  private readonly clock: Clock;

  /** @throws RangeError when `maxMembers` is not a positive integer. */
  constructor(init: MemberTableInit) {
    this.maxMembers = init.maxMembers ?? DEFAULT_MAX_MEMBERS;
    if (!Number.isSafeInteger(this.maxMembers) || this.maxMembers < 1) throw new RangeError('options.maxMembers must be a positive integer');
    this.randomBytes = init.randomBytes;
    this.clock = init.clock;
  }

  /** Number of members. */
  get size(): number {
    return this.members.size;
  }

  /** Whether `peerId` is a member. */
  has(peerId: string): boolean {
    return this.members.has(peerId);
  }

  /** The member record of `peerId` (the table's own object: compare it with {@link remove}'s argument, do not change it). */
  get(peerId: string): TrackerMember | undefined {
    return this.members.get(peerId);
  }

  /** The members in join order (the table's own records: a liveness round keeps them to remove exactly those). */
  list(): TrackerMember[] {
    return [...this.members.values()];
  }

  /** The members in join order, as copies. */
  snapshot(): TrackerMember[] {
    return this.list().map((m) => ({ ...m }));
  }

  /**
   * JOIN_CHAIN: the PID already held at `host:port` (a rejoin), or a new
   * unique PID when the table has room.
   * @returns the error `TRACKER_FULL` when the table holds `maxMembers`, or
   *   when no unique PID could be drawn in {@link MAX_PID_DRAWS} tries.
   */
  join(request: JoinRequest): JoinResult {
    const existing = this.byAddress.get(addressKey(request.host, request.port));
    const current = existing === undefined ? undefined : this.members.get(existing);
    if (current) return { ok: true, member: { ...current }, rejoin: true };
    if (this.members.size >= this.maxMembers) return { ok: false, code: 'TRACKER_FULL', message: `the tracker holds ${this.maxMembers} members` };
    const peerId = this.newPeerId();
    if (peerId === undefined) return { ok: false, code: 'TRACKER_FULL', message: 'no unique peer id could be drawn' };
    const member: TrackerMember = { peerId, host: request.host, port: request.port, joinedAt: this.clock.nowMs(), lastAliveAt: undefined, nodeId: undefined };
    this.members.set(peerId, member);
    this.byAddress.set(addressKey(request.host, request.port), peerId);
    return { ok: true, member: { ...member }, rejoin: false };
  }

  /**
   * Records that `member` answered a liveness check at `at` (ms since the
   * epoch) as node `nodeId`. A record no longer in the table is left alone.
   */
  markAlive(member: TrackerMember, nodeId: string, at: number): void {
    if (this.members.get(member.peerId) !== member) return;
    member.lastAliveAt = at;
    member.nodeId = nodeId;
  }

  /**
   * Removes `member` (a record from {@link list} or {@link get}) when it is
   * still the one in the table under its PID.
   * @returns whether it was removed.
   */
  remove(member: TrackerMember): boolean {
    if (this.members.get(member.peerId) !== member) return false;
    this.members.delete(member.peerId);
    this.byAddress.delete(addressKey(member.host, member.port));
    return true;
  }

  /**
   * Up to `max` members other than `except`, in join order when there are
   * no more than `max`, else a uniform sample (partial Fisher–Yates on the
   * injected randomness). The table's own records: copy before handing out.
   */
  sample(except: string | undefined, max: number): TrackerMember[] {
    const all: TrackerMember[] = [];
    for (const m of this.members.values()) if (m.peerId !== except) all.push(m);
    if (all.length <= max) return all;
    const r = this.randomBytes(4 * max);
    const view = new DataView(r.buffer, r.byteOffset, r.byteLength);
    for (let i = 0; i < max; i++) {
      const j = i + (view.getUint32(4 * i) % (all.length - i));
      [all[i], all[j]] = [all[j]!, all[i]!];
    }
    return all.slice(0, max);
  }

  private newPeerId(): string | undefined {
    for (let i = 0; i < MAX_PID_DRAWS; i++) {
      const id = makePeerId(this.randomBytes(PID_RANDOM_BYTES));
      if (!this.members.has(id)) return id;
    }
    return undefined;
  }
}

function addressKey(host: string, port: number): string {
  return `${host}|${port}`;
}
