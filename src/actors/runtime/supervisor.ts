import { ActorCell, DEFAULT_MAILBOX_CAPACITY, type Actor, type ActorRef } from './actor.js';
import { EscalationError } from './errors.js';
import { systemClock, type Clock } from '../../core/clock.js';

/**
 * Restart policy of a child (Erlang/OTP): `permanent` is always restarted,
 * `transient` only after a crash (the runtime has no normal exit of an actor,
 * so it behaves as permanent), `temporary` never (for example one connection
 * actor per TCP peer).
 */
export type RestartPolicy = 'permanent' | 'transient' | 'temporary';

/** How to start and supervise one child (OTP child spec `{id, start, restart, shutdown}`). */
export interface ChildSpec<M> {
  id: string;
  /** Makes a fresh instance; called at start and at every restart. */
  start: () => Actor<M>;
  restart?: RestartPolicy;
  /** Mailbox capacity, messages. @default DEFAULT_MAILBOX_CAPACITY */
  mailbox?: number;
  /**
   * Longest wait for the child to stop (its message in progress, then its
   * `stop()`), ms; after that it is abandoned. Also bounds the wait for the
   * old instance's `stop()` before a restart. @default DEFAULT_SHUTDOWN_MS
   */
  shutdownMs?: number;
}

/**
 * Restart budget of a supervisor (Erlang/OTP supervisor flags `intensity`
 * and `period`): at most `intensity` restarts, of all its children together,
 * within `periodMs`; the crash that would need one more escalates.
 * @default 5 restarts per 10 s
 */
export const DEFAULT_INTENSITY = 5;
/** See {@link DEFAULT_INTENSITY}, ms. */
export const DEFAULT_PERIOD_MS = 10_000;
/** First restart delay, ms; doubled for each earlier restart of the same child within the period, up to {@link DEFAULT_BACKOFF_MAX_MS}. */
export const DEFAULT_BACKOFF_INITIAL_MS = 10;
/** Longest restart delay, ms. */
export const DEFAULT_BACKOFF_MAX_MS = 1_000;
/** Default {@link ChildSpec.shutdownMs}, ms. */
export const DEFAULT_SHUTDOWN_MS = 5_000;

/** Events a supervisor reports (for logs and tests). */
export type SupervisorEvent =
  | { type: 'child-started'; child: string }
  | { type: 'child-crashed'; child: string; error: unknown }
  /** `restarts`: restarts of this child within the period, this one included; `delayMs`: the backoff waited. */
  | { type: 'child-restarted'; child: string; restarts: number; delayMs: number }
  /** `abandoned`: the child did not stop within its `shutdownMs` and was left behind. */
  | { type: 'child-stopped'; child: string; abandoned: boolean }
  | { type: 'escalated'; error: EscalationError };

export interface SupervisorOptions {
  name: string;
  intensity?: number;
  periodMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Called once when the budget is spent, after every child was stopped. A parent passes its own crash handler here. */
  onEscalate?: (err: EscalationError) => void;
  onEvent?: (event: SupervisorEvent) => void;
  /** Clock of the restart budget. @default systemClock */
  clock?: Clock;
}

interface Child {
  spec: ChildSpec<any>;
  cell: ActorCell<any>;
  /** Times of this child's recent restarts (for its backoff), ms. */
  restarts: number[];
  timer?: NodeJS.Timeout;
}

/**
 * A one-for-one supervisor (Erlang/OTP): starts children in order, stops them
 * in reverse, restarts a crashed child with a fresh instance after a backoff
 * while the restart budget (`intensity` restarts per `periodMs`, shared by all
 * children) lasts, and escalates when it is spent: it stops every child and
 * reports an {@link EscalationError} to its parent.
 *
 * A supervisor is not an actor; to nest one, let an actor own it: create it
 * in the actor's `start`, turn its `onEscalate` into a message the actor
 * throws on (a crash the outer supervisor handles), and stop it in `stop`.
 */
export class Supervisor {
  private readonly children: Child[] = [];
  /** Times of recent restarts of any child, ms: the budget. */
  private restarts: number[] = [];
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private escalated = false;
  readonly intensity: number;
  readonly periodMs: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private readonly now: () => number;

  constructor(private readonly options: SupervisorOptions) {
    this.intensity = options.intensity ?? DEFAULT_INTENSITY;
    this.periodMs = options.periodMs ?? DEFAULT_PERIOD_MS;
    this.backoffInitialMs = options.backoffInitialMs ?? DEFAULT_BACKOFF_INITIAL_MS;
    this.backoffMaxMs = options.backoffMaxMs ?? DEFAULT_BACKOFF_MAX_MS;
    const clock = options.clock ?? systemClock;
    this.now = () => clock.nowMs();
    if (!Number.isInteger(this.intensity) || this.intensity < 0) throw new RangeError('options.intensity must be a non-negative integer');
    if (!(this.periodMs > 0)) throw new RangeError('options.periodMs must be positive');
  }

  get name(): string {
    return this.options.name;
  }

  /** Ids of the running children in start order. */
  get childIds(): string[] {
    return this.children.map((c) => c.spec.id);
  }

  /**
   * Starts a child after those already started and returns its ref. The child
   * is supervised from the moment its `start` runs (a crash of a message it
   * sends itself there is restarted like any other).
   * @throws Error when the id is taken or the supervisor is stopping; what
   *   the child's `start` throws (the half-started instance is then stopped
   *   and the child forgotten).
   */
  async startChild<M>(spec: ChildSpec<M>): Promise<ActorRef<M>> {
    if (this.stopping) throw new Error(`supervisor ${this.name} is stopping`);
    if (this.children.some((c) => c.spec.id === spec.id)) throw new Error(`child id ${spec.id} already exists in ${this.name}`);
    const child: Child = { spec, cell: undefined as unknown as ActorCell<M>, restarts: [] };
    child.cell = new ActorCell<M>(`${this.name}/${spec.id}`, spec.mailbox ?? DEFAULT_MAILBOX_CAPACITY, (err) => this.onCrash(child, err));
    // Listed before `start` runs, so the id is taken and a crash during start is not lost.
    this.children.push(child);
    try {
      await child.cell.activate(spec.start(), () => this.emit({ type: 'child-started', child: spec.id }));
    } catch (err) {
      const i = this.children.indexOf(child);
      if (i >= 0) this.children.splice(i, 1);
      if (child.timer) clearTimeout(child.timer);
      await this.withShutdownTimeout(child, child.cell.stop());
      if (this.stopping) throw new Error(`supervisor ${this.name} is stopping`, { cause: err });
      throw err;
    }
    return child.cell;
  }

  /** Stops one child (waiting at most its `shutdownMs`) and forgets it. Unknown ids are ignored. */
  async stopChild(id: string): Promise<void> {
    const i = this.children.findIndex((c) => c.spec.id === id);
    if (i < 0) return;
    const [child] = this.children.splice(i, 1);
    await this.stopCell(child!);
  }

  /**
   * Stops every child in reverse start order, each waited for at most its
   * `shutdownMs`; pending restarts are cancelled. Idempotent: every call
   * returns the same promise. The supervisor cannot be started again.
   */
  stop(): Promise<void> {
    if (!this.stopped) {
      this.stopping = true;
      this.stopped = this.stopAll();
    }
    return this.stopped;
  }

  private async stopAll(): Promise<void> {
    while (this.children.length > 0) await this.stopCell(this.children.pop()!);
  }

  private async stopCell(child: Child): Promise<void> {
    if (child.timer) clearTimeout(child.timer);
    child.timer = undefined;
    const stopped = await this.withShutdownTimeout(child, child.cell.stop());
    this.emit({ type: 'child-stopped', child: child.spec.id, abandoned: !stopped });
  }

  /** Waits for `work` at most the child's `shutdownMs`; true when it settled in time (a rejection counts as settled). */
  private async withShutdownTimeout(child: Child, work: Promise<void>): Promise<boolean> {
    const ms = child.spec.shutdownMs ?? DEFAULT_SHUTDOWN_MS;
    let timer: NodeJS.Timeout | undefined;
    const settled = await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), ms);
      }),
    ]);
    clearTimeout(timer);
    return settled;
  }

  private onCrash(child: Child, error: unknown): void {
    this.emit({ type: 'child-crashed', child: child.spec.id, error });
    if (this.stopping || !this.children.includes(child)) return;
    if ((child.spec.restart ?? 'permanent') === 'temporary') {
      void this.stopChild(child.spec.id);
      return;
    }
    const now = this.now();
    const recent = (t: number) => now - t < this.periodMs;
    this.restarts = this.restarts.filter(recent);
    if (this.restarts.length >= this.intensity) {
      void this.escalate(new EscalationError(this.name, child.spec.id, this.restarts.length + 1, this.periodMs, error));
      return;
    }
    this.restarts.push(now);
    child.restarts = child.restarts.filter(recent);
    child.restarts.push(now);
    const n = child.restarts.length;
    const delayMs = Math.min(this.backoffInitialMs * 2 ** (n - 1), this.backoffMaxMs);
    child.timer = setTimeout(() => {
      child.timer = undefined;
      void this.restart(child, n, delayMs);
    }, delayMs);
  }

  private async restart(child: Child, restarts: number, delayMs: number): Promise<void> {
    if (this.stopping || child.cell.isStopped) return;
    try {
      // A hung `stop()` of the old instance must not keep the child down forever.
      await this.withShutdownTimeout(child, child.cell.deactivate());
      if (this.stopping || child.cell.isStopped) return;
      await child.cell.activate(child.spec.start(), () => this.emit({ type: 'child-restarted', child: child.spec.id, restarts, delayMs }));
    } catch (err) {
      if (this.stopping || child.cell.isStopped) return;
      this.onCrash(child, err);
    }
  }

  private async escalate(err: EscalationError): Promise<void> {
    if (this.escalated) return;
    this.escalated = true;
    await this.stop();
    this.emit({ type: 'escalated', error: err });
    this.options.onEscalate?.(err);
  }

  private emit(e: SupervisorEvent): void {
    this.options.onEvent?.(e);
  }
}
