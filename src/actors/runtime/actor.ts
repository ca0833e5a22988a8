import { ActorCrashedError, ActorStoppedError, AskTimeoutError, MailboxFullError } from './errors.js';

/** Default mailbox capacity (messages). */
export const DEFAULT_MAILBOX_CAPACITY = 10_000;
/** Default timeout of {@link ActorRef.ask}, ms. */
export const DEFAULT_ASK_TIMEOUT_MS = 10_000;

/**
 * The reply channel carried inside a request message (Akka Typed's
 * `replyTo`). The actor calls `resolve` with the reply or `reject` with a
 * failure; the first call wins.
 */
export class Reply<R> {
  private done = false;
  constructor(
    private readonly onResolve: (value: R) => void,
    private readonly onReject: (err: Error) => void,
  ) {}
  resolve(value: R): void {
    if (this.done) return;
    this.done = true;
    this.onResolve(value);
  }
  reject(err: Error): void {
    if (this.done) return;
    this.done = true;
    this.onReject(err);
  }
  get settled(): boolean {
    return this.done;
  }
}

/**
 * A typed address of an actor: accepts only messages of type `M`. Where the
 * actor runs (this thread, a worker, another host) is hidden behind it.
 */
export interface ActorRef<M> {
  readonly name: string;
  /**
   * Enqueues a message.
   * @throws MailboxFullError when the bounded mailbox is full,
   *   ActorStoppedError when the actor has stopped.
   */
  tell(msg: M): void;
  /** Like `tell` but returns false instead of throwing when the message cannot be enqueued. */
  offer(msg: M): boolean;
  /**
   * Request/reply: `build` receives the reply channel to put in the message.
   * @throws AskTimeoutError after `timeoutMs` (default {@link DEFAULT_ASK_TIMEOUT_MS}),
   *   ActorCrashedError when the actor crashes handling it, or the errors of `tell`.
   */
  ask<R>(build: (reply: Reply<R>) => M, timeoutMs?: number): Promise<R>;
}

/** The messages of a union `M` that carry a reply channel (requests; the channel may be optional, as for fire-and-forget submits). */
export type RequestOf<M> = M extends { type: string } ? ('reply' extends keyof M ? M : never) : never;
/** The `type` tags of the requests of `M`. */
export type RequestType<M> = RequestOf<M>['type'];
/** The request of `M` tagged `T`. */
export type RequestNamed<M, T extends RequestType<M>> = Extract<RequestOf<M>, { type: T }>;
/** The reply type carried by the request of `M` tagged `T`. */
export type ReplyTo<M, T extends RequestType<M>> = NonNullable<RequestNamed<M, T>['reply' & keyof RequestNamed<M, T>]> extends Reply<infer R> ? R : never;
/** The fields of a request besides its tag and its reply channel. */
export type RequestFields<M, T extends RequestType<M>> = Omit<RequestNamed<M, T>, 'type' | 'reply'>;

/**
 * Request/reply with the reply type inferred from the message union: sends
 * the request tagged `type` with `fields` and resolves with its reply.
 * `request(chain, 'chain/get-locator', {})` is a `Promise<string[]>`.
 * @throws what {@link ActorRef.ask} throws.
 */
export function request<M extends { type: string }, T extends RequestType<M>>(
  ref: ActorRef<M>,
  type: T,
  fields: RequestFields<M, T>,
  timeoutMs?: number,
): Promise<ReplyTo<M, T>> {
  return ref.ask<ReplyTo<M, T>>((reply) => ({ ...fields, type, reply }) as unknown as M, timeoutMs);
}

/** What an actor sees of itself. */
export interface ActorContext<M> {
  readonly self: ActorRef<M>;
  readonly name: string;
  /**
   * Sends `msg` to this actor every `intervalMs` ms (Akka's
   * `Behaviors.withTimers`). The timer belongs to the cell: it is cleared when
   * the instance stops or is replaced by a restart, so a crashed actor never
   * leaks one. A tick that finds the mailbox full is dropped and counted
   * ({@link ActorCell.droppedTicks}): the next one follows.
   * @throws RangeError when `intervalMs` is not a positive number.
   */
  every(intervalMs: number, msg: M): void;
  /**
   * Enqueues a fact for this actor from a callback outside `receive` (a
   * pool's result, a socket event). A full mailbox crashes the actor, so its
   * supervisor restarts it rather than it silently missing the fact; after the
   * final stop the message is dropped.
   */
  deliver(msg: M): void;
}

/**
 * An actor: handles one message at a time, in arrival order. Throwing (or
 * rejecting) from `receive` is a crash: the supervisor decides what follows.
 * Validation errors are replies, not crashes.
 */
export interface Actor<M> {
  /** Called once before the first message; throwing fails the start. */
  start?(ctx: ActorContext<M>): void | Promise<void>;
  receive(msg: M, ctx: ActorContext<M>): void | Promise<void>;
  /** Called on stop and before a restart replaces this instance; should release resources. */
  stop?(): void | Promise<void>;
}

/** Listener a cell reports crashes to (its supervisor). */
export type CrashListener = (err: unknown) => void;

/**
 * Runs one actor: a bounded FIFO mailbox and a loop that hands messages to
 * the current instance, one at a time (an async `receive` is awaited before
 * the next message). The cell outlives restarts, so refs stay valid: messages
 * queued behind a crash wait for the next instance.
 *
 * Requests are recognised by a `reply` field holding a {@link Reply}: when a
 * request crashes its handler, or is still queued at the final stop, that
 * reply is rejected (with `ActorCrashedError` or `ActorStoppedError`).
 */
export class ActorCell<M> implements ActorRef<M> {
  private queue: M[] = [];
  private head = 0;
  private running = false;
  private suspended = true;
  private stopped = false;
  private stopping: Promise<void> | undefined;
  private activating: Promise<void> | undefined;
  private instance: Actor<M> | undefined;
  private idleWaiters: Array<() => void> = [];
  private timers: Array<ReturnType<typeof setInterval>> = [];
  private dropped = 0;
  private crashed = false;
  readonly context: ActorContext<M>;

  /**
   * @param capacity mailbox capacity, messages (the message being handled does not count).
   * @param onCrash called once per crash, after the mailbox was suspended.
   * @throws RangeError when `capacity` is not a positive integer.
   */
  constructor(
    readonly name: string,
    readonly capacity: number,
    private readonly onCrash: CrashListener,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.context = { self: this, name, every: (ms, msg) => this.every(ms, msg), deliver: (msg) => this.deliver(msg) };
  }

  /** Timer messages dropped because the mailbox was full. */
  get droppedTicks(): number {
    return this.dropped;
  }

  private deliver(msg: M): void {
    if (this.stopped) return;
    if (this.size < this.capacity) {
      this.queue.push(msg);
      this.schedule();
      return;
    }
    this.crash(new MailboxFullError(this.name, this.capacity));
  }

  /** Reports one crash per instance: the next `activate` re-arms it. */
  private crash(err: unknown): void {
    if (this.crashed) return;
    this.crashed = true;
    this.suspended = true;
    this.onCrash(err);
  }

  private every(intervalMs: number, msg: M): void {
    if (!(intervalMs > 0)) throw new RangeError('intervalMs must be a positive number');
    const timer = setInterval(() => {
      if (!this.offer(msg)) this.dropped++;
    }, intervalMs);
    this.timers.push(timer);
  }

  /** Messages waiting in the mailbox. */
  get size(): number {
    return this.queue.length - this.head;
  }

  /** True from the moment {@link stop} is called. */
  get isStopped(): boolean {
    return this.stopped;
  }

  tell(msg: M): void {
    if (this.stopped) throw new ActorStoppedError(this.name);
    if (this.size >= this.capacity) throw new MailboxFullError(this.name, this.capacity);
    this.queue.push(msg);
    this.schedule();
  }

  offer(msg: M): boolean {
    if (this.stopped || this.size >= this.capacity) return false;
    this.queue.push(msg);
    this.schedule();
    return true;
  }

  ask<R>(build: (reply: Reply<R>) => M, timeoutMs = DEFAULT_ASK_TIMEOUT_MS): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => reply.reject(new AskTimeoutError(this.name, timeoutMs)), timeoutMs);
      const reply = new Reply<R>(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e) => {
          clearTimeout(timer);
          reject(e);
        },
      );
      try {
        this.tell(build(reply));
      } catch (err) {
        reply.reject(err as Error);
      }
    });
  }

  /**
   * Installs a new instance (first start or restart), awaits its `start` and
   * resumes the mailbox. `onStarted` runs after a successful start and
   * before any message is handed out (so a supervisor reports the start
   * before a crash of the first message).
   * @throws what `start` throws; ActorStoppedError when the cell is stopped
   *   before or while the instance starts (the final stop then stops it).
   */
  async activate(instance: Actor<M>, onStarted?: () => void): Promise<void> {
    if (this.stopped) throw new ActorStoppedError(this.name);
    this.instance = instance;
    let starting: Promise<void>;
    try {
      starting = Promise.resolve(instance.start?.(this.context));
    } catch (err) {
      starting = Promise.reject(err);
    }
    this.activating = starting;
    try {
      await starting;
    } finally {
      if (this.activating === starting) this.activating = undefined;
    }
    if (this.stopped) throw new ActorStoppedError(this.name);
    onStarted?.();
    this.crashed = false;
    this.suspended = false;
    this.schedule();
  }

  /**
   * Stops handing out messages, waits for the message in progress, then
   * stops the current instance (before a restart or on shutdown). Queued
   * messages stay for the next instance.
   */
  async deactivate(): Promise<void> {
    this.suspended = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.whenIdle();
    const inst = this.instance;
    this.instance = undefined;
    await inst?.stop?.();
  }

  /**
   * Final stop: refuses new messages at once, rejects the requests still
   * queued, waits for the message in progress (and for an instance still
   * starting), then stops the instance. Idempotent: every call returns the
   * same promise.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.stopped = true;
    this.suspended = true;
    // They will never be handled; rejecting now does not depend on the instance stopping in time.
    const queued = this.queue.slice(this.head);
    this.queue = [];
    this.head = 0;
    for (const msg of queued) rejectReply(msg, new ActorStoppedError(this.name));
    await this.activating?.catch(() => undefined);
    await this.deactivate();
  }

  private whenIdle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.running || this.suspended || this.size === 0) return;
    this.running = true;
    queueMicrotask(() => void this.drain());
  }

  private async drain(): Promise<void> {
    while (!this.suspended && this.size > 0 && this.instance) {
      const msg = this.queue[this.head]!;
      this.queue[this.head] = undefined as M;
      this.head++;
      if (this.head === this.queue.length) {
        this.queue = [];
        this.head = 0;
      } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      try {
        await this.instance.receive(msg, this.context);
      } catch (err) {
        rejectReply(msg, new ActorCrashedError(this.name, err));
        this.suspended = true;
        this.finish();
        this.crash(err);
        return;
      }
    }
    this.finish();
  }

  private finish(): void {
    this.running = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
    if (!this.suspended) this.schedule();
  }
}

/** Rejects the reply channel found in a message's `reply` field, if any. */
function rejectReply(msg: unknown, err: Error): void {
  if (typeof msg === 'object' && msg !== null && 'reply' in msg) {
    const r = (msg as { reply: unknown }).reply;
    if (r instanceof Reply) r.reject(err);
  }
}
