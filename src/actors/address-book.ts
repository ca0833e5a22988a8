import { createHash } from 'node:crypto';
import { addressGroup, isLoopback } from '../transport/net-address.js';
import type { RandomSource } from '../core/clock.js';

/*
 * The peer manager's address book, after Bitcoin Core's addrman: addresses
 * nobody has connected to yet live in a "new" table, addresses we connected
 * to successfully in a "tried" table. Both are fixed arrays of buckets of
 * fixed slots, and where an address goes is a keyed hash (a secret salt of
 * this node) of its group and, for the new table, of the group of the peer
 * that told us about it:
 *
 * - one source group reaches only NEW_BUCKETS_PER_SOURCE_GROUP of the new
 *   buckets, so a peer that sends thousands of addresses overwrites at most
 *   that share of the table, never the whole book nor the tried table;
 * - an occupied slot is only taken over when its occupant is failing;
 * - the salt is secret, so an attacker cannot aim at chosen slots.
 *
 * Static peers of the config live apart and are never evicted. Pure: the
 * clock and the salt are injected.
 */

/** Buckets of the new table (addrman: 1,024; scaled down for a small network). */
export const NEW_BUCKET_COUNT = 64;
/** Buckets of the tried table (addrman: 256). */
export const TRIED_BUCKET_COUNT = 16;
/** Slots per bucket (addrman: 64). */
export const BUCKET_SIZE = 16;
/** New buckets one source group can reach (addrman `ADDRMAN_NEW_BUCKETS_PER_SOURCE_GROUP`: 64 of 1,024; the same 1/16 share here, 4 of 64). */
export const NEW_BUCKETS_PER_SOURCE_GROUP = 4;
/** Tried buckets one address group can reach (addrman `ADDRMAN_TRIED_BUCKETS_PER_GROUP`: 8 of 256; here 2 of 16). */
export const TRIED_BUCKETS_PER_GROUP = 2;
/** Failed attempts after which an address may be overwritten in its slot (addrman `ADDRMAN_RETRIES`: 3). */
export const TERRIBLE_FAILURES = 3;
/** Reconnection backoff: first delay and ceiling, ms (doubled per consecutive failure). */
export const RECONNECT_BACKOFF_MIN_MS = 500;
export const RECONNECT_BACKOFF_MAX_MS = 60_000;

/** One address and what the book knows of it. */
export interface AddressRecord {
  host: string;
  port: number;
  /** The node id last seen there (informative; never trusted for a decision). */
  nodeId?: string;
  failures: number;
  /** No dial before this time, ms. */
  nextAttemptAt: number;
  /** From the config: never forgotten. */
  static: boolean;
  /** Connected successfully at least once (in the tried table). */
  tried: boolean;
}

/** Options of {@link AddressBook}. */
export interface AddressBookInit {
  /** Secret salt of the bucket hashes (random per node). */
  salt: Uint8Array;
  /** Randomness of selection and sampling. */
  random: RandomSource;
}

/**
 * The group of an address in the book: its netgroup, except on loopback,
 * where every peer of a one-machine network shares 127.0.0.1 and only the
 * port tells them apart.
 */
export function bookGroup(host: string, port: number): string {
  return isLoopback(host) ? `loopback:${port}` : addressGroup(host);
}

/** `host:port`, the key of an address. */
export function addressKey(a: { host: string; port: number }): string {
  return `${a.host}:${a.port}`;
}

/** The bucketed address book (see the module comment). */
export class AddressBook {
  private readonly records = new Map<string, AddressRecord>();
  /** Slot index (bucket * BUCKET_SIZE + position) → key. */
  private readonly newSlots = new Map<number, string>();
  private readonly triedSlots = new Map<number, string>();
  /** Key → its slot in the table it lives in. */
  private readonly slotOf = new Map<string, number>();
  private readonly random: RandomSource;

  constructor(private readonly init: AddressBookInit) {
    this.random = init.random;
  }

  /** Addresses held (static ones included). */
  get size(): number {
    return this.records.size;
  }

  /** Addresses in the new table, in the tried table. */
  get counts(): { new: number; tried: number; static: number } {
    let s = 0;
    for (const r of this.records.values()) if (r.static) s++;
    return { new: this.newSlots.size, tried: this.triedSlots.size, static: s };
  }

  get(key: string): AddressRecord | undefined {
    return this.records.get(key);
  }

  values(): IterableIterator<AddressRecord> {
    return this.records.values();
  }

  /**
   * Adds a static address (config `peers`): kept outside the tables, never
   * evicted, dialled first.
   */
  addStatic(a: { host: string; port: number; nodeId?: string }): void {
    const key = addressKey(a);
    const known = this.records.get(key);
    if (known) {
      known.static = true;
      return;
    }
    this.records.set(key, { host: a.host, port: a.port, ...(a.nodeId ? { nodeId: a.nodeId } : {}), failures: 0, nextAttemptAt: 0, static: true, tried: false });
  }

  /**
   * Adds an address learnt from a source to the new table. `sourceGroup` is
   * the {@link bookGroup} of the peer that sent it (or of the peer itself
   * when it announced its own listen address). Returns false when it was
   * dropped: its slot is held by a healthy address.
   */
  add(a: { host: string; port: number; nodeId?: string }, sourceGroup: string): boolean {
    const key = addressKey(a);
    const known = this.records.get(key);
    if (known) {
      if (a.nodeId) known.nodeId = a.nodeId;
      return true;
    }
    const slot = this.newSlot(bookGroup(a.host, a.port), key, sourceGroup);
    const occupant = this.newSlots.get(slot);
    if (occupant !== undefined) {
      const old = this.records.get(occupant);
      if (old && old.failures < TERRIBLE_FAILURES) return false;
      this.remove(occupant);
    }
    this.records.set(key, { host: a.host, port: a.port, ...(a.nodeId ? { nodeId: a.nodeId } : {}), failures: 0, nextAttemptAt: 0, static: false, tried: false });
    this.newSlots.set(slot, key);
    this.slotOf.set(key, slot);
    return true;
  }

  /**
   * A connection to the address succeeded: its failures reset and it moves
   * to the tried table. An address already in the tried slot goes back to the
   * new table (addrman's `MakeTried`), or is dropped if its new slot is taken.
   */
  markGood(key: string, nodeId?: string): void {
    const rec = this.records.get(key);
    if (!rec) return;
    rec.failures = 0;
    rec.nextAttemptAt = 0;
    if (nodeId) rec.nodeId = nodeId;
    if (rec.static || rec.tried) return;
    const from = this.slotOf.get(key);
    if (from !== undefined) this.newSlots.delete(from);
    const slot = this.triedSlot(bookGroup(rec.host, rec.port), key);
    const occupant = this.triedSlots.get(slot);
    if (occupant !== undefined) {
      const old = this.records.get(occupant)!;
      old.tried = false;
      const back = this.newSlot(bookGroup(old.host, old.port), occupant, bookGroup(old.host, old.port));
      if (this.newSlots.has(back)) {
        this.records.delete(occupant);
        this.slotOf.delete(occupant);
      } else {
        this.newSlots.set(back, occupant);
        this.slotOf.set(occupant, back);
      }
    }
    rec.tried = true;
    this.triedSlots.set(slot, key);
    this.slotOf.set(key, slot);
  }

  /** A connection attempt failed: exponential backoff before the next one. */
  markFailed(key: string, now: number): void {
    const rec = this.records.get(key);
    if (!rec) return;
    rec.failures++;
    rec.nextAttemptAt = now + Math.min(RECONNECT_BACKOFF_MIN_MS * 2 ** (rec.failures - 1), RECONNECT_BACKOFF_MAX_MS);
  }

  /** Forgets an address (static ones included). */
  remove(key: string): void {
    const rec = this.records.get(key);
    if (!rec) return;
    this.records.delete(key);
    const slot = this.slotOf.get(key);
    this.slotOf.delete(key);
    if (slot === undefined) return;
    if (rec.tried) {
      if (this.triedSlots.get(slot) === key) this.triedSlots.delete(slot);
    } else if (this.newSlots.get(slot) === key) this.newSlots.delete(slot);
  }

  /**
   * Addresses to dial, best first: static ones, then tried and new ones
   * interleaved at random (addrman's 50 % chance for either table), each
   * table shuffled. Only those `eligible` returns true for.
   */
  candidates(now: number, eligible: (key: string, rec: AddressRecord) => boolean): Array<[string, AddressRecord]> {
    const stat: Array<[string, AddressRecord]> = [];
    const tried: Array<[string, AddressRecord]> = [];
    const fresh: Array<[string, AddressRecord]> = [];
    for (const [k, r] of this.records) {
      if (r.nextAttemptAt > now || !eligible(k, r)) continue;
      (r.static ? stat : r.tried ? tried : fresh).push([k, r]);
    }
    stat.sort((a, b) => a[1].failures - b[1].failures);
    this.shuffle(tried);
    this.shuffle(fresh);
    const out = stat;
    while (tried.length > 0 || fresh.length > 0) {
      const fromTried = fresh.length === 0 || (tried.length > 0 && this.random.below(2) === 0);
      out.push((fromTried ? tried : fresh).pop()!);
    }
    return out;
  }

  /** Up to `n` addresses chosen at random (for GETADDR answers and relays). */
  sample(n: number): AddressRecord[] {
    const all = [...this.records.values()];
    this.shuffle(all);
    return all.slice(0, n);
  }

  private shuffle<T>(xs: T[]): void {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.random.below(i + 1);
      [xs[i], xs[j]] = [xs[j]!, xs[i]!];
    }
  }

  private hash(...parts: string[]): number {
    const h = createHash('sha256').update(this.init.salt);
    for (const p of parts) h.update(p).update('\0');
    return h.digest().readUInt32LE(0);
  }

  /** addrman's `GetNewBucket` and `GetBucketPosition`: the source group picks a few buckets, the address group one of them. */
  private newSlot(group: string, key: string, srcGroup: string): number {
    const which = this.hash('new-pick', group, srcGroup) % NEW_BUCKETS_PER_SOURCE_GROUP;
    const bucket = this.hash('new-bucket', srcGroup, String(which)) % NEW_BUCKET_COUNT;
    return bucket * BUCKET_SIZE + (this.hash('new-pos', String(bucket), key) % BUCKET_SIZE);
  }

  /** addrman's `GetTriedBucket`: an address group spreads over a few tried buckets. */
  private triedSlot(group: string, key: string): number {
    const which = this.hash('tried-pick', key) % TRIED_BUCKETS_PER_GROUP;
    const bucket = this.hash('tried-bucket', group, String(which)) % TRIED_BUCKET_COUNT;
    return bucket * BUCKET_SIZE + (this.hash('tried-pos', String(bucket), key) % BUCKET_SIZE);
  }
}
