import { ActorCell, DEFAULT_MAILBOX_CAPACITY, type Actor, type ActorRef } from './actor.js';
import { EscalationError } from './errors.js';

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
  /** Longest wait for the child's `stop()`, ms. @default DEFAULT_SHUTDOWN_MS */
  shutdownMs?: number;
}

/** Restart budget: at most `intensity` restarts within `periodMs`. @default 5 per 10 s */
export const DEFAULT_INTENSITY = 5;
export const DEFAULT_PERIOD_MS = 10_000;
/** First restart delay, doubled per recent restart up to the maximum, ms. */
export const DEFAULT_BACKOFF_INITIAL_MS = 10;
export const DEFAULT_BACKOFF_MAX_MS = 1_000;
export const DEFAULT_SHUTDOWN_MS = 5_000;

/** Events a supervisor reports (for logs and tests). */
export type SupervisorEvent =
  | { type: 'child-started'; child: string }
  | { type: 'child-crashed'; child: string; error: unknown }
  | { type: 'child-restarted'; child: string; restarts: number; delayMs: number }
  | { type: 'child-stopped'; child: string }
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
  /** Injected clock, ms. */
  now?: () => number;
}

interface Child {
  spec: ChildSpec<any>;
  cell: ActorCell<any>;
  restarts: number[];
  timer?: NodeJS.Timeout;
}

/**
 * A one-for-one supervisor: starts children in order, stops them in reverse,
 * restarts a crashed child after a backoff while the restart budget
 * (`intensity` restarts per `periodMs`) lasts, and escalates when it is spent:
 * it stops every child and reports an {@link EscalationError} to its parent.
 */
export class Supervisor {
  private readonly children: Child[] = [];
  private stopping = false;
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
    this.now = options.now ?? Date.now;
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
   * Starts a child after those already started and returns its ref.
   * @throws Error when the id is taken, the supervisor is stopping, or the child's `start` fails.
   */
  async startChild<M>(spec: ChildSpec<M>): Promise<ActorRef<M>> {
    if (this.stopping) throw new Error(`supervisor ${this.name} is stopping`);
    if (this.children.some((c) => c.spec.id === spec.id)) throw new Error(`child id ${spec.id} already exists in ${this.name}`);
    const child: Child = { spec, cell: undefined as unknown as ActorCell<M>, restarts: [] };
    child.cell = new ActorCell<M>(`${this.name}/${spec.id}`, spec.mailbox ?? DEFAULT_MAILBOX_CAPACITY, (err) => this.onCrash(child, err));
    await child.cell.activate(spec.start());
    this.children.push(child);
    this.emit({ type: 'child-started', child: spec.id });
    return child.cell;
  }

  /** Stops one child and forgets it. */
  async stopChild(id: string): Promise<void> {
    const i = this.children.findIndex((c) => c.spec.id === id);
    if (i < 0) return;
    const [child] = this.children.splice(i, 1);
    await this.stopCell(child!);
  }

  /** Stops every child in reverse start order. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    while (this.children.length > 0) await this.stopCell(this.children.pop()!);
  }

  private async stopCell(child: Child): Promise<void> {
    if (child.timer) clearTimeout(child.timer);
    const ms = child.spec.shutdownMs ?? DEFAULT_SHUTDOWN_MS;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      child.cell.stop().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ]);
    clearTimeout(timer);
    this.emit({ type: 'child-stopped', child: child.spec.id });
  }

  private onCrash(child: Child, error: unknown): void {
    this.emit({ type: 'child-crashed', child: child.spec.id, error });
    if (this.stopping || !this.children.includes(child)) return;
    if ((child.spec.restart ?? 'permanent') === 'temporary') {
      void this.stopChild(child.spec.id);
      return;
    }
    const now = this.now();
    child.restarts = child.restarts.filter((t) => now - t < this.periodMs);
    if (child.restarts.length >= this.intensity) {
      void this.escalate(new EscalationError(this.name, child.spec.id, child.restarts.length + 1, this.periodMs, error));
      return;
    }
    child.restarts.push(now);
    const n = child.restarts.length;
    const delayMs = Math.min(this.backoffInitialMs * 2 ** (n - 1), this.backoffMaxMs);
    child.timer = setTimeout(() => {
      child.timer = undefined;
      void this.restart(child, n, delayMs);
    }, delayMs);
  }

  private async restart(child: Child, restarts: number, delayMs: number): Promise<void> {
    if (this.stopping) return;
    try {
      await child.cell.deactivate().catch(() => undefined);
      await child.cell.activate(child.spec.start());
      this.emit({ type: 'child-restarted', child: child.spec.id, restarts, delayMs });
    } catch (err) {
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
