/**
 * A clock that moves only when a test says so (ms, starting at `start`), for
 * the pure state machines and actors that take the time as an argument or an
 * injected `now()`.
 */
export class FakeClock {
  private t: number;
  constructor(start = 1_000_000) {
    this.t = start;
  }
  /** The current time, ms. Bound, so it can be handed out as a `now` dependency. */
  readonly now = (): number => this.t;
  /** Moves the clock forward by `ms` and returns the new time. */
  advance(ms: number): number {
    if (!(ms >= 0)) throw new RangeError('a fake clock only moves forward');
    this.t += ms;
    return this.t;
  }
}
