/*
 * Misbehaviour scores and bans of the peer manager, as a pure state machine
 * fed by an injected clock.
 *
 * A fault adds points to a score per *subject*: the remote's proven identity
 * (`key:<hex public key>`) and its address (`ip:<a>`, `net:<subnet>`, see
 * `AddressPolicy`), never a node id the remote merely claims, so nobody can
 * get another peer banned by claiming its id. Scores decay exponentially
 * (lodestar's peer score: half-life 10 minutes), so a peer that errs now and
 * then is tolerated while a hostile one reaches the ban score (bcoin's 100)
 * quickly. A banned subject is refused until its ban ends.
 */

/** Half-life of a misbehaviour score, ms (lodestar `SCORE_HALFLIFE_MS`: 10 minutes). */
export const SCORE_HALF_LIFE_MS = 10 * 60_000;
/** Most subjects with a score kept; past it the lowest decayed scores are forgotten. */
export const MAX_SCORED_SUBJECTS = 10_000;
/** Most bans kept; past it the bans that end soonest are dropped. */
export const MAX_BANS = 10_000;

interface Score {
  value: number;
  at: number;
}

/** The outcome of {@link MisbehaviourBook.add}: the subjects that this fault got banned (empty when none). */
export interface ScoreResult {
  banned: string[];
  /** The highest score among the subjects after the fault. */
  score: number;
}

/** Options of {@link MisbehaviourBook}. */
export interface MisbehaviourBookInit {
  /** Score at which a subject is banned. */
  banScore: number;
  /** How long a ban lasts, ms. */
  banMs: number;
  /** @default SCORE_HALF_LIFE_MS */
  halfLifeMs?: number;
  /** @default MAX_SCORED_SUBJECTS */
  maxSubjects?: number;
  /** @default MAX_BANS */
  maxBans?: number;
}

/** Decaying misbehaviour scores and the bans they lead to. */
export class MisbehaviourBook {
  private readonly scores = new Map<string, Score>();
  private readonly bans = new Map<string, number>();
  private readonly halfLife: number;

  /** @throws RangeError when a number is not positive. */
  constructor(private readonly init: MisbehaviourBookInit) {
    this.halfLife = init.halfLifeMs ?? SCORE_HALF_LIFE_MS;
    for (const [k, v] of Object.entries({ banScore: init.banScore, halfLifeMs: this.halfLife })) {
      if (!(v > 0)) throw new RangeError(`options.${k} must be a positive number`);
    }
    if (!(init.banMs >= 0)) throw new RangeError('options.banMs must be a number ≥ 0');
  }

  /** The decayed score of a subject at `now`. */
  score(subject: string, now: number): number {
    const s = this.scores.get(subject);
    return s ? this.decayed(s, now) : 0;
  }

  /**
   * Adds `points` to every subject's score; subjects reaching the ban score
   * are banned for `banMs` (a ban time of 0 disables banning) and their
   * score restarts from 0.
   */
  add(subjects: readonly string[], points: number, now: number): ScoreResult {
    const banned: string[] = [];
    let top = 0;
    if (points <= 0) return { banned, score: 0 };
    for (const subject of subjects) {
      const value = this.score(subject, now) + points;
      top = Math.max(top, value);
      if (value >= this.init.banScore && this.init.banMs > 0) {
        this.scores.delete(subject);
        this.ban(subject, now + this.init.banMs);
        banned.push(subject);
      } else {
        this.scores.delete(subject); // re-insert: the map's order is the order of last change
        this.scores.set(subject, { value, at: now });
        if (this.scores.size > (this.init.maxSubjects ?? MAX_SCORED_SUBJECTS)) this.pruneScores(now);
      }
    }
    return { banned, score: top };
  }

  /** Bans a subject until `untilMs` (extends a shorter ban, never shortens one). */
  ban(subject: string, untilMs: number): void {
    const prev = this.bans.get(subject) ?? 0;
    if (untilMs <= prev) return;
    this.bans.set(subject, untilMs);
    const max = this.init.maxBans ?? MAX_BANS;
    if (this.bans.size > max) {
      const soonest = [...this.bans.entries()].sort((a, b) => a[1] - b[1]).slice(0, this.bans.size - max);
      for (const [k] of soonest) this.bans.delete(k);
    }
  }

  /** Lifts a ban; false when there was none. */
  unban(subject: string): boolean {
    return this.bans.delete(subject);
  }

  /** Bans that last beyond `now`. */
  bansInForce(now: number): Array<{ subject: string; untilMs: number }> {
    return [...this.bans].filter(([, until]) => until > now).map(([subject, untilMs]) => ({ subject, untilMs }));
  }

  /** The first of `subjects` banned at `now` and when its ban ends, or undefined. Expired bans are forgotten. */
  banned(subjects: readonly string[], now: number): { subject: string; untilMs: number } | undefined {
    for (const subject of subjects) {
      const until = this.bans.get(subject);
      if (until === undefined) continue;
      if (until <= now) {
        this.bans.delete(subject);
        continue;
      }
      return { subject, untilMs: until };
    }
    return undefined;
  }

  /** Number of bans held (expired ones included until they are next looked at). */
  get banCount(): number {
    return this.bans.size;
  }

  /** Number of subjects with a score. */
  get scoredCount(): number {
    return this.scores.size;
  }

  private decayed(s: Score, now: number): number {
    const dt = Math.max(0, now - s.at);
    return s.value * Math.pow(0.5, dt / this.halfLife);
  }

  /** Drops the oldest-changed tenth of the scores: they have decayed the most. */
  private pruneScores(now: number): void {
    const drop = Math.max(1, Math.floor(this.scores.size / 10));
    let i = 0;
    for (const [k, s] of this.scores) {
      if (i++ >= drop && this.decayed(s, now) >= 1) break;
      this.scores.delete(k);
    }
  }
}

/**
 * A token bucket (Bitcoin Core's address rate limit: `MAX_ADDR_RATE_PER_SECOND`
 * 0.1 and `MAX_ADDR_PROCESSING_TOKEN_BUCKET` 1,000): `rate` tokens per second
 * up to `burst`; `take(n)` spends up to `n` and returns how many it could.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  /** @throws RangeError when `rate` or `burst` is negative or not finite. */
  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now: number,
    initial = burst,
  ) {
    if (!(rate >= 0 && Number.isFinite(rate)) || !(burst >= 0 && Number.isFinite(burst))) throw new RangeError('rate and burst must be finite numbers ≥ 0');
    this.tokens = Math.min(initial, burst);
    this.at = now;
  }

  /** Tokens available at `now`. */
  available(now: number): number {
    this.refill(now);
    return this.tokens;
  }

  /** Spends up to `n` whole tokens; returns how many were granted (0 to `n`). */
  take(n: number, now: number): number {
    this.refill(now);
    const granted = Math.min(n, Math.floor(this.tokens));
    this.tokens -= granted;
    return granted;
  }

  private refill(now: number): void {
    if (now > this.at) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.rate);
      this.at = now;
    }
  }
}
