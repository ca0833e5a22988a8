import type { Clock } from '../core/clock.js';
import { makePeerId, PID_RANDOM_BYTES, type TrackerErrorCode, type TrackerPeer } from './protocol.js';

/** @default 10000 — most members in the table; JOIN_CHAIN beyond it is answered `ERROR TRACKER_FULL`. */
export const DEFAULT_MAX_MEMBERS = 10_000;
/**
 * @default 8 — most members joined from one source address (an IPv4
 * address, or an IPv6 /64); JOIN_CHAIN beyond it is answered
 * `ERROR SOURCE_FULL`. Exempt sources (loopback, configured local ranges)
 * have no quota, so a devnet on one machine keeps working.
 */
export const DEFAULT_MAX_MEMBERS_PER_SOURCE = 8;
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
  /** Source key it joined from (see {@link JoinRequest.source}). */
  source: string;
}

/** A JOIN_CHAIN as the table sees it: where the member listens for the peer protocol. */
export interface JoinRequest {
  /** Host the member listens on (IPv6 without brackets), already resolved from an unspecified address. */
  host: string;
  /** Its peer-protocol port, 1–65535. */
  port: number;
  /**
   * The source the request came from: the connection's IP address (an IPv6
   * address by its /64, see `sourceKey`), the unit of the per-source quota
   * and of eviction; `exempt` when it has no quota (loopback, configured
   * local ranges). Absent for a join that comes from no connection: it is
   * counted under its host and has no quota.
   */
  source?: { key: string; exempt: boolean };
}

/**
 * Result of {@link MemberTable.join}: the member (a copy), whether it was
 * already in the table at that address and the member evicted to make room
 * for it (a copy), or the error line to answer with.
 */
export type JoinResult =
  | { ok: true; member: TrackerMember; rejoin: boolean; evicted?: TrackerMember }
  | { ok: false; code: TrackerErrorCode; message: string };

/** Options of a {@link MemberTable}. */
export interface MemberTableInit {
  /** Most members. @default {@link DEFAULT_MAX_MEMBERS} */
  maxMembers?: number;
  /** Most members from one non-exempt source. @default {@link DEFAULT_MAX_MEMBERS_PER_SOURCE} */
  maxMembersPerSource?: number;
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
 *
 * One source cannot crowd out the others: a non-exempt source holds at most
 * `maxMembersPerSource` members, and when the table is full a join from a
 * source holding fewer members than the largest source (by two or more)
 * evicts one of the largest source's members (one never seen alive first,
 * else its newest), the idea of Bitcoin Core's inbound eviction, which
 * protects diversity rather than first-come order.
 */
export class MemberTable {
  /** Members by peer id, in join order. */
  private readonly members = new Map<string, TrackerMember>();
  /** `host|port` → peer id, so a peer joining again from the same address gets its PID back. */
  private readonly byAddress = new Map<string, string>();
  /** Source key → number of members joined from it. */
  private readonly perSource = new Map<string, number>();
  readonly maxMembers: number;
  readonly maxMembersPerSource: number;
  private readonly randomBytes: (n: number) => Uint8Array;
  private readonly clock: Clock;

  /** @throws RangeError when `maxMembers` is not a positive integer. */
  constructor(init: MemberTableInit) {
    this.maxMembers = init.maxMembers ?? DEFAULT_MAX_MEMBERS;
    if (!Number.isSafeInteger(this.maxMembers) || this.maxMembers < 1) throw new RangeError('options.maxMembers must be a positive integer');
    this.maxMembersPerSource = init.maxMembersPerSource ?? DEFAULT_MAX_MEMBERS_PER_SOURCE;
    if (!Number.isSafeInteger(this.maxMembersPerSource) || this.maxMembersPerSource < 1) throw new RangeError('options.maxMembersPerSource must be a positive integer');
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

  /** Number of members joined from `source`. */
  countFrom(source: string): number {
    return this.perSource.get(source) ?? 0;
  }

  /**
   * JOIN_CHAIN: the PID already held at `host:port` (a rejoin), or a new
   * unique PID when the table has room, or room can be made by evicting a
   * member of a larger source.
   * @returns the error `SOURCE_FULL` when a non-exempt source already holds
   *   `maxMembersPerSource` members; `TRACKER_FULL` when the table holds
   *   `maxMembers` and no source is larger than the joiner's by two, or when
   *   no unique PID could be drawn in {@link MAX_PID_DRAWS} tries.
   */
  join(request: JoinRequest): JoinResult {
    const existing = this.byAddress.get(addressKey(request.host, request.port));
    const current = existing === undefined ? undefined : this.members.get(existing);
    if (current) return { ok: true, member: { ...current }, rejoin: true };
    const source = request.source?.key ?? request.host;
    const own = this.countFrom(source);
    if (request.source?.exempt === false && own >= this.maxMembersPerSource) {
      return { ok: false, code: 'SOURCE_FULL', message: `${source} already holds ${this.maxMembersPerSource} members` };
    }
    let victim: TrackerMember | undefined;
    if (this.members.size >= this.maxMembers) {
      victim = this.evictionCandidate(own);
      if (victim === undefined) return { ok: false, code: 'TRACKER_FULL', message: `the tracker holds ${this.maxMembers} members` };
    }
    const peerId = this.newPeerId();
    if (peerId === undefined) return { ok: false, code: 'TRACKER_FULL', message: 'no unique peer id could be drawn' };
    if (victim !== undefined) this.remove(victim);
    const member: TrackerMember = {
      peerId,
      host: request.host,
      port: request.port,
      joinedAt: this.clock.nowMs(),
      lastAliveAt: undefined,
      nodeId: undefined,
      source,
    };
    this.members.set(peerId, member);
    this.byAddress.set(addressKey(request.host, request.port), peerId);
    this.perSource.set(source, own + 1);
    return victim === undefined ? { ok: true, member: { ...member }, rejoin: false } : { ok: true, member: { ...member }, rejoin: false, evicted: { ...victim } };
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
    const left = (this.perSource.get(member.source) ?? 1) - 1;
    if (left > 0) this.perSource.set(member.source, left);
    else this.perSource.delete(member.source);
    return true;
  }

  /**
   * The member to evict for a joiner whose source holds `own` members: one
   * of the largest source, when that source holds at least `own + 2` (so
   * the swap leaves the two no further apart than they were, and two
   * sources of equal size never evict each other); its newest member never
   * seen alive, else its newest.
   */
  private evictionCandidate(own: number): TrackerMember | undefined {
    let largest: string | undefined;
    let size = 0;
    for (const [source, n] of this.perSource) {
      if (n > size) {
        largest = source;
        size = n;
      }
    }
    if (largest === undefined || size < own + 2) return undefined;
    let newest: TrackerMember | undefined;
    let newestUnseen: TrackerMember | undefined;
    for (const m of this.members.values()) {
      if (m.source !== largest) continue;
      newest = m;
      if (m.lastAliveAt === undefined) newestUnseen = m;
    }
    return newestUnseen ?? newest;
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
