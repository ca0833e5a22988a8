/*
 * The switch's bounds on what a datagram may cost it, as pure state machines
 * fed by the caller's clock (ms): a token bucket per source address, and a
 * cache of recently accepted signatures so that a captured message cannot be
 * replayed inside its `#time` window.
 */

/** Token-bucket limit of datagrams per source address. */
export interface RateLimitOptions {
  /** Sustained datagrams per second per address. */
  perSecond: number;
  /** Bucket size: datagrams an idle address may send at once. */
  burst: number;
  /** Most addresses tracked; the least recently seen is forgotten beyond it. */
  maxAddresses: number;
}

/**
 * Token buckets keyed by address (IP without port, so that a client cannot
 * escape its limit by changing ports).
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(private readonly o: RateLimitOptions) {
    if (!(o.perSecond > 0) || !(o.burst >= 1) || !(o.maxAddresses >= 1)) throw new RangeError('rate limit options must be positive');
  }

  /** Takes one token for `address` at time `now` (ms); false when its bucket is empty. */
  take(address: string, now: number): boolean {
    let b = this.buckets.get(address);
    if (b) {
      this.buckets.delete(address); // re-insert: the map's order is least recently seen first
      b.tokens = Math.min(this.o.burst, b.tokens + ((now - b.at) / 1000) * this.o.perSecond);
      b.at = now;
    } else {
      b = { tokens: this.o.burst, at: now };
      if (this.buckets.size >= this.o.maxAddresses) this.buckets.delete(this.buckets.keys().next().value!);
    }
    this.buckets.set(address, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  get size(): number {
    return this.buckets.size;
  }
}

/** What {@link ReplayCache.check} says about a signature. */
export type ReplayVerdict = 'fresh' | 'replayed' | 'full';

/**
 * Signatures of accepted messages, each kept for `ttlMs` (at least the
 * `#time` window on both sides, so that a message is refused by the window
 * before it leaves the cache). Bounded: when `capacity` unexpired entries are
 * held, new messages are refused (`full`) rather than forgetting a signature
 * that could then be replayed.
 */
export class ReplayCache {
  private readonly expiry = new Map<string, number>();
  constructor(
    private readonly ttlMs: number,
    private readonly capacity: number,
  ) {
    if (!(ttlMs > 0) || !(capacity >= 1)) throw new RangeError('replay cache ttl and capacity must be positive');
  }

  /** Whether `signature` may be accepted at `now` (ms); does not record it. */
  check(signature: string, now: number): ReplayVerdict {
    const until = this.expiry.get(signature);
    if (until !== undefined && until > now) return 'replayed';
    if (until === undefined && this.expiry.size >= this.capacity) {
      this.prune(now);
      if (this.expiry.size >= this.capacity) return 'full';
    }
    return 'fresh';
  }

  /** Records an accepted signature until `now + ttlMs`. */
  remember(signature: string, now: number): void {
    this.expiry.delete(signature);
    this.expiry.set(signature, now + this.ttlMs);
  }

  /** Drops expired entries (insertion order is expiry order, since the ttl is fixed). */
  prune(now: number): void {
    for (const [sig, until] of this.expiry) {
      if (until > now) break;
      this.expiry.delete(sig);
    }
  }

  get size(): number {
    return this.expiry.size;
  }
}

/** Result of checking a message's `#time` against the window. */
export type TimeVerdict = { ok: true; seconds: number | undefined } | { ok: false; reason: 'missing' | 'malformed' | 'out-of-window' };

const TIME_RE = /^[0-9]{1,12}(\.[0-9]{1,9})?$/;

/**
 * Checks `#time` (unix seconds, a fraction allowed as the original's
 * `time.time()`) against `now ± windowMs`. A message without `#time` passes
 * only when `required` is false.
 */
export function checkTime(value: string | undefined, present: boolean, now: number, windowMs: number, required: boolean): TimeVerdict {
  if (!present) return required ? { ok: false, reason: 'missing' } : { ok: true, seconds: undefined };
  if (value === undefined || !TIME_RE.test(value)) return { ok: false, reason: 'malformed' };
  const seconds = Number(value);
  if (Math.abs(seconds * 1000 - now) > windowMs) return { ok: false, reason: 'out-of-window' };
  return { ok: true, seconds };
}
