import { randomBytes, randomInt } from 'node:crypto';

/**
 * The one clock every actor and the transport read, injected so that tests
 * fake time and replay a seed. Units are in the
 * names: milliseconds since the Unix epoch.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch (UTC). */
  nowMs(): number;
}

/** The machine's wall clock. */
export const systemClock: Clock = { nowMs: () => Date.now() };

/** Whole seconds since the Unix epoch, the unit of header times (Bitcoin's `nTime`). */
export function unixSeconds(clock: Clock): number {
  return Math.floor(clock.nowMs() / 1000);
}

/** A test clock: time moves only when the test says so. */
export class ManualClock implements Clock {
  constructor(private ms = 0) {}
  nowMs(): number {
    return this.ms;
  }
  /** Moves the clock forward by `ms` milliseconds. @throws RangeError when `ms` is negative. */
  advance(ms: number): void {
    if (ms < 0) throw new RangeError('a clock never runs backwards');
    this.ms += ms;
  }
  set(ms: number): void {
    this.ms = ms;
  }
}

/**
 * The one source of randomness of actors and the transport (shuffles,
 * connection nonces), injected so that a test can replay a seed.
 */
export interface RandomSource {
  /** A uniformly random integer in [0, `bound`). @throws RangeError when `bound` is not a positive safe integer. */
  below(bound: number): number;
  /** `n` random bytes. */
  bytes(n: number): Uint8Array;
}

/** Randomness from the operating system's CSPRNG (`node:crypto`). */
export const cryptoRandom: RandomSource = {
  below: (bound) => {
    if (!Number.isSafeInteger(bound) || bound < 1) throw new RangeError('bound must be a positive safe integer');
    return bound === 1 ? 0 : randomInt(bound);
  },
  bytes: (n) => new Uint8Array(randomBytes(n)),
};

/**
 * A deterministic source for tests (xorshift32 seeded by `seed`): the same
 * seed gives the same sequence. Not for keys or anything an attacker sees.
 */
export function seededRandom(seed: number): RandomSource {
  let x = seed >>> 0 || 0x9e3779b9;
  const next = (): number => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  return {
    below: (bound) => {
      if (!Number.isSafeInteger(bound) || bound < 1) throw new RangeError('bound must be a positive safe integer');
      return next() % bound;
    },
    bytes: (n) => {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = next() & 0xff;
      return out;
    },
  };
}
