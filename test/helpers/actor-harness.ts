/**
 * Drives one actor alone, as js-libp2p tests a service with stubbed
 * components: the actor's collaborators are {@link StubRef}s that record what
 * they are told and answer requests from handlers the test gives, and its
 * context is a {@link StubContext} whose timers the test fires by hand. The
 * test calls `receive` itself and awaits it, so every step is deterministic.
 */
import { Reply, type Actor, type ActorContext, type ActorRef } from '../../src/actors/runtime/actor.js';

type Tagged = { type: string };
type Of<M, T extends string> = Extract<M, { type: T }>;
/** The value a request of type `T` replies with. */
type ReplyValue<M, T extends string> = Of<M, T> extends { reply?: Reply<infer R> } ? R : never;

/** Answers to requests, by message type: each handler gets the request and returns (or resolves) its reply. */
export type Handlers<M extends Tagged> = { [T in M['type']]?: (msg: Of<M, T>) => ReplyValue<M, T> | Promise<ReplyValue<M, T>> };

/**
 * An actor reference that records every message it is sent (`tell`, `offer`
 * and requests alike, in order) and answers requests through `handlers`. A
 * request without a handler is rejected, so a test learns of a request it
 * did not expect.
 */
export class StubRef<M extends Tagged> implements ActorRef<M> {
  /** Every message received, in order. */
  readonly received: M[] = [];
  /** When false, `offer` refuses (a full mailbox) and `tell` throws. */
  accepting = true;
  /** Called with every message received (after it is recorded). */
  onMessage: ((msg: M) => void) | undefined;

  constructor(
    readonly name: string,
    public handlers: Handlers<M> = {},
  ) {}

  /** The messages of one type received so far. */
  of<T extends M['type']>(type: T): Array<Of<M, T>> {
    return this.received.filter((m): m is Of<M, T> => m.type === type);
  }

  /** The type of every message received, in order. */
  get types(): string[] {
    return this.received.map((m) => m.type);
  }

  tell(msg: M): void {
    if (!this.accepting) throw new Error(`${this.name}: mailbox full`);
    this.take(msg);
  }

  offer(msg: M): boolean {
    if (!this.accepting) return false;
    this.take(msg);
    return true;
  }

  ask<R>(build: (reply: Reply<R>) => M): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.take(build(new Reply<R>(resolve, reject)));
    });
  }

  private take(msg: M): void {
    this.received.push(msg);
    this.onMessage?.(msg);
    const reply = (msg as { reply?: unknown }).reply;
    if (!(reply instanceof Reply)) return;
    const handler = this.handlers[msg.type as M['type']] as ((m: M) => unknown) | undefined;
    if (!handler) {
      reply.reject(new Error(`${this.name}: no handler for ${msg.type}`));
      return;
    }
    Promise.resolve()
      .then(() => handler(msg))
      .then(
        (v) => reply.resolve(v),
        (e: unknown) => reply.reject(e instanceof Error ? e : new Error(String(e))),
      );
  }
}

/**
 * The context an actor is started with. What the actor sends itself (through
 * `self`, e.g. from a socket callback) and the facts it `deliver`s wait in
 * {@link mailbox}, in order, until the test hands them over ({@link next},
 * {@link pump}); timers registered with `every` are only recorded.
 */
export class StubContext<M extends Tagged> implements ActorContext<M> {
  readonly self: StubRef<M>;
  /** Timers the actor registered with `every`: interval, ms, and the message. */
  readonly timers: Array<{ intervalMs: number; msg: M }> = [];
  /** Messages sent to the actor itself or delivered from callbacks, in order, not yet handed to it. */
  readonly mailbox: M[] = [];
  private waiters: Array<() => void> = [];

  constructor(readonly name: string) {
    this.self = new StubRef<M>(name);
    this.self.onMessage = (m) => this.enqueue(m);
  }

  every(intervalMs: number, msg: M): void {
    this.timers.push({ intervalMs, msg });
  }

  deliver(msg: M): void {
    this.enqueue(msg);
  }

  /** Resolves with the next message for the actor (waiting for one when none is queued) and removes it. */
  async next(): Promise<M> {
    while (this.mailbox.length === 0) await new Promise<void>((r) => this.waiters.push(r));
    return this.mailbox.shift() as M;
  }

  /**
   * Hands the actor its messages one at a time, awaiting each `receive`, until
   * `done()` holds. `done` is checked before each message and whenever
   * {@link wake} is called (for conditions that change outside the actor).
   */
  async pump(actor: Actor<M>, done: () => boolean): Promise<void> {
    for (;;) {
      if (done()) return;
      if (this.mailbox.length === 0) {
        await new Promise<void>((r) => this.waiters.push(r));
        continue;
      }
      await actor.receive(this.mailbox.shift() as M, this);
    }
  }

  /** Makes a waiting {@link pump} or {@link next} look again. */
  wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private enqueue(msg: M): void {
    this.mailbox.push(msg);
    this.wake();
  }
}
