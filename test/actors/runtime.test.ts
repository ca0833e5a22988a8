import { performance } from 'node:perf_hooks';
import t, { type Test } from 'tap';
import { ActorCell, Reply, type Actor, type ActorContext, type ActorRef, request } from '../../src/actors/runtime/actor.js';
import { ActorCrashedError, ActorStoppedError, AskTimeoutError, EscalationError, MailboxFullError } from '../../src/actors/runtime/errors.js';
import { DEFAULT_SHUTDOWN_MS, Supervisor, type SupervisorEvent, type SupervisorOptions } from '../../src/actors/runtime/supervisor.js';
import { assertNever } from '../../src/core/reject.js';

// ---------------------------------------------------------------------------
// Fixtures

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A promise that never settles (a hung `stop()` or `receive`). */
const forever = (): Promise<never> => new Promise<never>(() => undefined);

type EventOf<T extends SupervisorEvent['type']> = Extract<SupervisorEvent, { type: T }>;

/** Records supervisor events with their arrival time and lets a test await them. */
class EventLog {
  readonly list: Array<SupervisorEvent & { at: number }> = [];
  private waiters: Array<() => void> = [];

  readonly onEvent = (e: SupervisorEvent): void => {
    this.list.push({ ...e, at: performance.now() });
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  };

  of<T extends SupervisorEvent['type']>(type: T, child?: string): Array<EventOf<T> & { at: number }> {
    return this.list.filter((e) => e.type === type && (child === undefined || ('child' in e && e.child === child))) as Array<EventOf<T> & { at: number }>;
  }

  /** Resolves once `count` events of `type` (for `child`, when given) have been seen. */
  async until<T extends SupervisorEvent['type']>(type: T, count = 1, child?: string): Promise<Array<EventOf<T> & { at: number }>> {
    for (;;) {
      const seen = this.of(type, child);
      if (seen.length >= count) return seen;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Compact trace: `type:child`. */
  get trace(): string[] {
    return this.list.map((e) => ('child' in e ? `${e.type}:${e.child}` : e.type));
  }
}

type CounterMsg =
  | { type: 'add'; n: number }
  | { type: 'get'; reply: Reply<number> }
  | { type: 'crash'; error: Error }
  | { type: 'fail'; error: Error; reply: Reply<number> }
  | { type: 'silent'; reply: Reply<number> }
  | { type: 'signal'; done: () => void }
  | { type: 'block'; entered: () => void; gate: Promise<void> };

/** A counter; `crash`/`fail` throw, `silent` never replies, `signal` calls back, `block` waits on a gate. */
class Counter implements Actor<CounterMsg> {
  count = 0;
  constructor(
    readonly id = 'counter',
    private readonly log: string[] = [],
  ) {}
  start(): void {
    this.log.push(`start ${this.id}`);
  }
  async receive(msg: CounterMsg): Promise<void> {
    switch (msg.type) {
      case 'add':
        this.count += msg.n;
        return;
      case 'get':
        msg.reply.resolve(this.count);
        return;
      case 'crash':
      case 'fail':
        throw msg.error;
      case 'silent':
        return;
      case 'signal':
        msg.done();
        return;
      case 'block':
        this.log.push(`enter ${this.id}`);
        msg.entered();
        await msg.gate;
        this.log.push(`leave ${this.id}`);
        return;
      default:
        assertNever(msg);
    }
  }
  stop(): void {
    this.log.push(`stop ${this.id}`);
  }
}

const get = (ref: ActorRef<CounterMsg>, timeoutMs?: number): Promise<number> => request(ref, 'get', {}, timeoutMs);

/** Occupies an actor with a message that waits for `release()`; resolves once the actor is inside it. */
async function occupy(ref: ActorRef<CounterMsg>): Promise<{ release: () => void }> {
  const entered = deferred();
  const gate = deferred();
  ref.tell({ type: 'block', entered: () => entered.resolve(), gate: gate.promise });
  await entered.promise;
  return { release: () => gate.resolve() };
}

function supervisor(t: Test, options: Partial<SupervisorOptions> = {}): { sup: Supervisor; events: EventLog } {
  const events = new EventLog();
  const sup = new Supervisor({ name: 'sup', backoffInitialMs: 1, ...options, onEvent: events.onEvent });
  t.teardown(() => sup.stop());
  return { sup, events };
}

// ---------------------------------------------------------------------------
// Mailbox and request/reply

t.test('tell delivers in FIFO order, one message at a time: an async receive is not re-entered', async (t) => {
  const seen: number[] = [];
  let inside = 0;
  let maxInside = 0;
  const done = deferred();
  const total = 200;
  const cell = new ActorCell<{ n: number }>('fifo', total, (err) => done.reject(err));
  t.teardown(() => cell.stop());
  await cell.activate({
    async receive({ n }) {
      inside++;
      maxInside = Math.max(maxInside, inside);
      // Yield to the event loop in varying ways so a re-entrant loop would interleave.
      if (n % 3 === 0) await new Promise((r) => setImmediate(r));
      else if (n % 3 === 1) await Promise.resolve();
      seen.push(n);
      inside--;
      if (n === total - 1) done.resolve();
    },
  });
  for (let n = 0; n < total; n++) cell.tell({ n });
  await done.promise;
  t.same(seen, Array.from({ length: total }, (_, n) => n), 'delivered in the order told');
  t.equal(maxInside, 1, 'never more than one receive in progress');
  t.equal(cell.size, 0, 'mailbox drained');
});

t.test('messages told before activate wait in the mailbox and are delivered once the actor starts', async (t) => {
  const seen: number[] = [];
  const done = deferred();
  const cell = new ActorCell<number>('early', 10, () => undefined);
  t.teardown(() => cell.stop());
  cell.tell(1);
  cell.tell(2);
  await new Promise((r) => setImmediate(r));
  t.equal(cell.size, 2, 'nothing delivered before start');
  await cell.activate({
    receive(n) {
      seen.push(n);
      if (n === 2) done.resolve();
    },
  });
  await done.promise;
  t.same(seen, [1, 2]);
});

t.test('ask resolves with the reply the actor sends', async (t) => {
  const { sup } = supervisor(t);
  const ref = await sup.startChild<CounterMsg>({ id: 'c', start: () => new Counter() });
  ref.tell({ type: 'add', n: 5 });
  ref.tell({ type: 'add', n: 7 });
  t.equal(await get(ref), 12);
});

t.test('ask rejects with AskTimeoutError when the actor never replies, and the actor keeps working', async (t) => {
  const { sup } = supervisor(t);
  const ref = await sup.startChild<CounterMsg>({ id: 'c', start: () => new Counter() });
  const started = performance.now();
  const err = await request(ref, 'silent', {}, 30).catch((e: unknown) => e);
  t.type(err, AskTimeoutError);
  t.equal((err as AskTimeoutError).code, 'ERR_ASK_TIMEOUT');
  t.match((err as Error).message, /sup\/c/, 'names the actor');
  t.ok(performance.now() - started >= 25, 'waited about the timeout');
  ref.tell({ type: 'add', n: 1 });
  t.equal(await get(ref), 1, 'a later ask is answered');
});

t.test('an ask whose handler crashes rejects with ActorCrashedError carrying the failure', async (t) => {
  const { sup, events } = supervisor(t);
  const ref = await sup.startChild<CounterMsg>({ id: 'c', start: () => new Counter() });
  const boom = new Error('boom');
  const err = await request(ref, 'fail', { error: boom }).catch((e: unknown) => e);
  t.type(err, ActorCrashedError);
  t.equal((err as ActorCrashedError).code, 'ERR_ACTOR_CRASHED');
  t.equal((err as Error).cause, boom, 'cause is the thrown error');
  await events.until('child-restarted');
  t.equal(await get(ref), 0, 'the restarted actor answers');
});

t.test('ask on a full mailbox rejects at once with MailboxFullError; a throwing build rejects with its error', async (t) => {
  const cell = new ActorCell<CounterMsg>('tiny', 1, () => undefined);
  t.teardown(() => cell.stop());
  await cell.activate(new Counter());
  const { release } = await occupy(cell);
  const drained = deferred();
  cell.tell({ type: 'signal', done: () => drained.resolve() });
  await t.rejects(get(cell), MailboxFullError);
  const bad = new Error('cannot build');
  await t.rejects(
    cell.ask<number>(() => {
      throw bad;
    }),
    bad,
  );
  release();
  await drained.promise;
  t.equal(await get(cell), 0, 'accepted again once drained');
});

t.test('a full mailbox: tell throws MailboxFullError, offer returns false; once drained, messages are accepted again', async (t) => {
  const capacity = 3;
  const cell = new ActorCell<CounterMsg>('bounded', capacity, () => undefined);
  t.teardown(() => cell.stop());
  await cell.activate(new Counter());
  // The message in progress is out of the mailbox; `capacity` more fit behind it.
  const { release } = await occupy(cell);
  for (let i = 0; i < capacity - 1; i++) cell.tell({ type: 'add', n: 1 });
  const drained = deferred();
  cell.tell({ type: 'signal', done: () => drained.resolve() });
  t.equal(cell.size, capacity);
  const err = t.throws(() => cell.tell({ type: 'add', n: 100 }), MailboxFullError) as unknown;
  t.equal((err as MailboxFullError).code, 'ERR_MAILBOX_FULL');
  t.equal(cell.offer({ type: 'add', n: 100 }), false, 'offer refuses without throwing');
  t.equal(cell.size, capacity, 'refused messages were not enqueued');
  release();
  await drained.promise;
  t.equal(cell.size, 0, 'drained');
  t.equal(await get(cell), capacity - 1, 'only the accepted messages were delivered');
  t.equal(cell.offer({ type: 'add', n: 10 }), true, 'offer accepted after draining');
  cell.tell({ type: 'add', n: 20 });
  t.equal(await get(cell), capacity - 1 + 30);
});

t.test('ActorCell rejects a capacity that is not a positive integer', async (t) => {
  for (const capacity of [0, -1, 1.5, Number.NaN]) t.throws(() => new ActorCell('x', capacity, () => undefined), RangeError);
});

// ---------------------------------------------------------------------------
// Crash and restart

t.test('crash and restart: fresh instance, same ref, queued messages still delivered, events fire', async (t) => {
  const { sup, events } = supervisor(t, { intensity: 10 });
  const instances: Counter[] = [];
  const ref = await sup.startChild<CounterMsg>({
    id: 'c',
    start: () => {
      const c = new Counter();
      instances.push(c);
      return c;
    },
  });
  ref.tell({ type: 'add', n: 41 });
  t.equal(await get(ref), 41);

  const boom = new Error('boom');
  ref.tell({ type: 'crash', error: boom });
  // Queued behind the crash; the restarted instance must receive them.
  ref.tell({ type: 'add', n: 2 });
  const after = get(ref);
  t.equal(await after, 2, 'state was reset and the queued messages reached the new instance');
  t.equal(instances.length, 2, 'a fresh instance was made');
  t.not(instances[0], instances[1]);
  const [crashed] = events.of('child-crashed', 'c');
  t.equal(crashed?.error, boom, 'child-crashed carries the error');
  const [restarted] = events.of('child-restarted', 'c');
  t.match(restarted, { child: 'c', restarts: 1, delayMs: 1 });
  t.same(events.trace, ['child-started:c', 'child-crashed:c', 'child-restarted:c']);
});

t.test('backoff delays grow with each recent restart, up to the maximum', async (t) => {
  const { sup, events } = supervisor(t, { intensity: 10, backoffInitialMs: 4, backoffMaxMs: 20 });
  const ref = await sup.startChild<CounterMsg>({ id: 'c', start: () => new Counter() });
  for (let i = 1; i <= 4; i++) {
    ref.tell({ type: 'crash', error: new Error(`crash ${i}`) });
    await events.until('child-restarted', i);
  }
  const restarted = events.of('child-restarted');
  t.same(
    restarted.map((e) => e.delayMs),
    [4, 8, 16, 20],
  );
  t.same(
    restarted.map((e) => e.restarts),
    [1, 2, 3, 4],
  );
  const crashed = events.of('child-crashed');
  for (let i = 0; i < restarted.length; i++) {
    const waited = restarted[i]!.at - crashed[i]!.at;
    t.ok(waited >= restarted[i]!.delayMs - 1, `restart ${i + 1} waited ${waited.toFixed(1)} ms >= ${restarted[i]!.delayMs} ms`);
  }
  t.equal(await get(ref), 0);
});

t.test('a temporary child is not restarted: it is stopped and forgotten', async (t) => {
  const { sup, events } = supervisor(t);
  let made = 0;
  const ref = await sup.startChild<CounterMsg>({
    id: 'conn',
    restart: 'temporary',
    start: () => {
      made++;
      return new Counter();
    },
  });
  const keep = await sup.startChild<CounterMsg>({ id: 'keep', start: () => new Counter() });
  ref.tell({ type: 'crash', error: new Error('peer went away') });
  await events.until('child-stopped', 1, 'conn');
  t.equal(made, 1, 'no new instance');
  t.same(sup.childIds, ['keep']);
  t.equal(events.of('child-restarted').length, 0);
  t.throws(() => ref.tell({ type: 'add', n: 1 }), ActorStoppedError);
  t.equal(await get(keep), 0, 'siblings are untouched');
});

t.test('a start() that fails on restart counts as a crash and is retried after a longer backoff', async (t) => {
  const { sup, events } = supervisor(t, { intensity: 5, backoffInitialMs: 2 });
  const startErr = new Error('cannot open');
  let made = 0;
  const ref = await sup.startChild<CounterMsg>({
    id: 'c',
    start: () => {
      made++;
      const c = new Counter();
      if (made === 2) c.start = () => Promise.reject(startErr);
      return c;
    },
  });
  const boom = new Error('boom');
  ref.tell({ type: 'crash', error: boom });
  ref.tell({ type: 'add', n: 3 });
  const [restarted] = await events.until('child-restarted');
  t.equal(made, 3, 'the instance whose start failed was replaced');
  t.same(
    events.of('child-crashed').map((e) => e.error),
    [boom, startErr],
    'the failed start was reported as a crash',
  );
  t.match(restarted, { restarts: 2, delayMs: 4 }, 'the failed start used up a restart and doubled the backoff');
  t.equal(await get(ref), 3, 'the message queued behind the crash survived both attempts');
});

t.test('a start() that keeps failing on restart spends the budget and escalates with the start error', async (t) => {
  const escalated = deferred<EscalationError>();
  const { sup } = supervisor(t, { intensity: 2, onEscalate: (e) => escalated.resolve(e) });
  const startErr = new Error('disk gone');
  let made = 0;
  const ref = await sup.startChild<CounterMsg>({
    id: 'c',
    start: () => {
      const c = new Counter();
      if (++made > 1) c.start = () => Promise.reject(startErr);
      return c;
    },
  });
  ref.tell({ type: 'crash', error: new Error('first') });
  const err = await escalated.promise;
  t.equal(err.cause, startErr);
  t.equal(made, 3, 'the first instance and two failed restarts');
});

t.test('a crash provoked from start() is supervised like any other', async (t) => {
  const { sup, events } = supervisor(t);
  let made = 0;
  const ref = await sup.startChild<CounterMsg>({
    id: 'c',
    start: () => {
      const first = ++made === 1;
      return {
        start(ctx: ActorContext<CounterMsg>) {
          if (first) ctx.self.tell({ type: 'crash', error: new Error('bad first message') });
        },
        receive(msg: CounterMsg) {
          if (msg.type === 'crash') throw msg.error;
          if (msg.type === 'get') msg.reply.resolve(made);
        },
      };
    },
  });
  await events.until('child-restarted');
  t.equal(await get(ref), 2);
});

// ---------------------------------------------------------------------------
// Restart budget and escalation

t.test('budget exhausted: the crash beyond intensity stops every child in reverse order and escalates once', async (t) => {
  const log: string[] = [];
  const escalations: EscalationError[] = [];
  const escalated = deferred<EscalationError>();
  const clock = { ms: 1_000 };
  const { sup, events } = supervisor(t, {
    name: 'root',
    intensity: 2,
    periodMs: 10_000,
    clock: { nowMs: () => clock.ms },
    onEscalate: (e) => {
      escalations.push(e);
      escalated.resolve(e);
    },
  });
  const a = await sup.startChild<CounterMsg>({ id: 'a', start: () => new Counter('a', log) });
  await sup.startChild<CounterMsg>({ id: 'b', start: () => new Counter('b', log) });
  const c = await sup.startChild<CounterMsg>({ id: 'c', start: () => new Counter('c', log) });
  for (let i = 1; i <= 2; i++) {
    clock.ms += 100;
    c.tell({ type: 'crash', error: new Error(`crash ${i}`) });
    await events.until('child-restarted', i);
  }
  log.length = 0;
  const last = new Error('crash 3');
  clock.ms += 100;
  c.tell({ type: 'crash', error: last });
  const err = await escalated.promise;
  t.type(err, EscalationError);
  t.equal(err.code, 'ERR_ESCALATION');
  t.equal(err.cause, last, 'cause is the last failure');
  t.match(err.message, /root/);
  t.same(log, ['stop c', 'stop b', 'stop a'], 'children stopped in reverse start order');
  t.same(sup.childIds, []);
  const trace = events.trace.slice(events.trace.lastIndexOf('child-crashed:c') + 1);
  t.same(trace, ['child-stopped:c', 'child-stopped:b', 'child-stopped:a', 'escalated'], 'escalated is reported after the children stopped');
  t.throws(() => a.tell({ type: 'add', n: 1 }), ActorStoppedError);
  await sup.stop();
  t.equal(escalations.length, 1, 'onEscalate called exactly once');
  await t.rejects(sup.startChild<CounterMsg>({ id: 'd', start: () => new Counter() }), /stopping/);
});

t.test('the budget is the supervisor’s: crashes of different children add up', async (t) => {
  const escalated = deferred<EscalationError>();
  const { sup, events } = supervisor(t, { intensity: 2, periodMs: 60_000, onEscalate: (e) => escalated.resolve(e) });
  const refs = [];
  for (const id of ['a', 'b', 'c']) refs.push(await sup.startChild<CounterMsg>({ id, start: () => new Counter(id) }));
  refs[0]!.tell({ type: 'crash', error: new Error('a') });
  await events.until('child-restarted', 1, 'a');
  refs[1]!.tell({ type: 'crash', error: new Error('b') });
  await events.until('child-restarted', 1, 'b');
  const last = new Error('c');
  refs[2]!.tell({ type: 'crash', error: last });
  const err = await escalated.promise;
  t.equal(err.cause, last);
  t.equal(err.child, 'c', 'names the child whose crash spent the budget');
  t.equal(err.crashes, 3);
});

t.test('crashes spread out beyond periodMs do not escalate', async (t) => {
  const clock = { ms: 0 };
  let escalations = 0;
  const { sup, events } = supervisor(t, {
    intensity: 2,
    periodMs: 1_000,
    backoffInitialMs: 1,
    clock: { nowMs: () => clock.ms },
    onEscalate: () => escalations++,
  });
  const ref = await sup.startChild<CounterMsg>({ id: 'c', start: () => new Counter() });
  for (let i = 1; i <= 6; i++) {
    clock.ms += 600; // at most two restarts ever fall within one period
    ref.tell({ type: 'crash', error: new Error(`crash ${i}`) });
    await events.until('child-restarted', i);
  }
  t.equal(escalations, 0);
  t.equal(events.of('escalated').length, 0);
  t.same(
    events.of('child-restarted').map((e) => e.restarts),
    [1, 2, 2, 2, 2, 2],
    'only restarts within the period count (and set the backoff)',
  );
  t.equal(await get(ref), 0, 'still running');
});

t.test('intensity 0 escalates on the first crash', async (t) => {
  const escalated = deferred<EscalationError>();
  const { sup } = supervisor(t, { intensity: 0, onEscalate: (e) => escalated.resolve(e) });
  const ref = await sup.startChild<CounterMsg>({ id: 'c', start: () => new Counter() });
  const boom = new Error('boom');
  ref.tell({ type: 'crash', error: boom });
  t.equal((await escalated.promise).cause, boom);
});

t.test('Supervisor rejects invalid options', async (t) => {
  t.throws(() => new Supervisor({ name: 'x', intensity: -1 }), RangeError);
  t.throws(() => new Supervisor({ name: 'x', intensity: 1.5 }), RangeError);
  t.throws(() => new Supervisor({ name: 'x', periodMs: 0 }), RangeError);
});

// ---------------------------------------------------------------------------
// Supervision trees

type SubtreeMsg = { type: 'subtree/escalated'; error: EscalationError };

/**
 * The pattern for a supervisor under a supervisor: an actor owns the inner
 * supervisor, turns its escalation into its own crash and stops it in
 * `stop()`. The outer supervisor then restarts (or escalates) the subtree.
 */
class Subtree implements Actor<SubtreeMsg> {
  private sup: Supervisor | undefined;
  constructor(
    private readonly name: string,
    private readonly populate: (sup: Supervisor) => Promise<void>,
    private readonly events: EventLog,
  ) {}
  async start(ctx: ActorContext<SubtreeMsg>): Promise<void> {
    this.sup = new Supervisor({
      name: this.name,
      intensity: 0,
      backoffInitialMs: 1,
      onEvent: this.events.onEvent,
      onEscalate: (error) => ctx.self.offer({ type: 'subtree/escalated', error }),
    });
    await this.populate(this.sup);
  }
  receive(msg: SubtreeMsg): void {
    throw msg.error;
  }
  async stop(): Promise<void> {
    await this.sup?.stop();
  }
}

t.test('a supervisor under a supervisor: escalation restarts the subtree, then propagates to the root', async (t) => {
  const log: string[] = [];
  const inner = new EventLog();
  const rootEscalated = deferred<EscalationError>();
  const { sup: root, events } = supervisor(t, { name: 'root', intensity: 1, onEscalate: (e) => rootEscalated.resolve(e) });
  await root.startChild<CounterMsg>({ id: 'store', start: () => new Counter('store', log) });
  let worker: ActorRef<CounterMsg> | undefined;
  let workers = 0;
  await root.startChild<SubtreeMsg>({
    id: 'net',
    start: () =>
      new Subtree(
        'net',
        async (sup) => {
          worker = await sup.startChild<CounterMsg>({ id: 'worker', start: () => new Counter(`worker${++workers}`, log) });
        },
        inner,
      ),
  });
  worker!.tell({ type: 'add', n: 1 });
  t.equal(await get(worker!), 1);

  // 1st failure: the inner supervisor (intensity 0) gives up; the root restarts the subtree.
  const first = new Error('worker failed');
  const oldWorker = worker!;
  oldWorker.tell({ type: 'crash', error: first });
  const [crashed] = await events.until('child-crashed', 1, 'net');
  t.type(crashed!.error, EscalationError, 'the root sees the subtree crash with the inner escalation');
  t.equal((crashed!.error as Error).cause, first);
  await events.until('child-restarted', 1, 'net');
  t.not(worker, oldWorker, 'the subtree started a fresh worker');
  t.equal(workers, 2);
  t.equal(await get(worker!), 0, 'the new worker starts from scratch');
  t.throws(() => oldWorker.tell({ type: 'add', n: 1 }), ActorStoppedError, 'the old worker is gone');

  // 2nd failure: the root's budget (1) is spent; everything stops and the root escalates.
  log.length = 0;
  const second = new Error('worker failed again');
  worker!.tell({ type: 'crash', error: second });
  const err = await rootEscalated.promise;
  t.type(err.cause, EscalationError, 'root escalation wraps the inner escalation');
  t.equal((err.cause as Error).cause, second, 'and the original failure is at the end of the chain');
  t.same(log, ['stop worker2', 'stop store'], 'the subtree went down before the sibling started before it');
  t.same(root.childIds, []);
  t.equal(inner.of('escalated').length, 2, 'each inner supervisor escalated once');
});

// ---------------------------------------------------------------------------
// Shutdown

t.test('ordered shutdown: children start in order, stop in reverse, the message in progress finishes first', async (t) => {
  const log: string[] = [];
  const { sup, events } = supervisor(t);
  const refs: Array<ActorRef<CounterMsg>> = [];
  for (const id of ['a', 'b', 'c']) refs.push(await sup.startChild<CounterMsg>({ id, start: () => new Counter(id, log) }));
  t.same(log, ['start a', 'start b', 'start c']);
  t.same(sup.childIds, ['a', 'b', 'c']);
  const [a, , c] = refs as [ActorRef<CounterMsg>, ActorRef<CounterMsg>, ActorRef<CounterMsg>];

  const { release } = await occupy(c);
  const pending = get(c).catch((e: unknown) => e);
  let stopped = false;
  const stopping = sup.stop().then(() => {
    stopped = true;
  });
  t.throws(() => c.tell({ type: 'add', n: 1 }), ActorStoppedError, 'new messages are refused as soon as stop begins');
  t.type(await pending, ActorStoppedError, 'a request queued behind the message in progress is rejected');
  await new Promise((r) => setImmediate(r));
  t.equal(stopped, false, 'stop() waits for the message in progress');
  t.notOk(log.includes('stop c'), 'c is not stopped under its running message');
  release();
  await stopping;
  t.same(log, ['start a', 'start b', 'start c', 'enter c', 'leave c', 'stop c', 'stop b', 'stop a']);
  t.same(
    events.of('child-stopped').map((e) => e.child),
    ['c', 'b', 'a'],
  );
  t.same(sup.childIds, []);
  t.throws(() => a.tell({ type: 'add', n: 1 }), ActorStoppedError);
  t.equal(a.offer({ type: 'add', n: 1 }), false);
  await t.rejects(get(a), ActorStoppedError);
  await t.rejects(sup.startChild<CounterMsg>({ id: 'late', start: () => new Counter() }), /stopping/);
});

t.test('stop() is idempotent: a second call waits for the same shutdown', async (t) => {
  const log: string[] = [];
  const { sup } = supervisor(t);
  const ref = await sup.startChild<CounterMsg>({ id: 'a', start: () => new Counter('a', log) });
  const { release } = await occupy(ref);
  const first = sup.stop();
  let secondDone = false;
  const second = sup.stop().then(() => {
    secondDone = true;
  });
  await new Promise((r) => setImmediate(r));
  t.equal(secondDone, false, 'the second call did not return before the children stopped');
  release();
  await Promise.all([first, second]);
  t.same(log, ['start a', 'enter a', 'leave a', 'stop a']);
});

t.test('stopChild stops one child and leaves the others running', async (t) => {
  const log: string[] = [];
  const { sup, events } = supervisor(t);
  await sup.startChild<CounterMsg>({ id: 'a', start: () => new Counter('a', log) });
  const b = await sup.startChild<CounterMsg>({ id: 'b', start: () => new Counter('b', log) });
  const c = await sup.startChild<CounterMsg>({ id: 'c', start: () => new Counter('c', log) });
  await sup.stopChild('b');
  t.same(sup.childIds, ['a', 'c']);
  t.throws(() => b.tell({ type: 'add', n: 1 }), ActorStoppedError);
  t.equal(await get(c), 0);
  t.same(events.of('child-stopped').map((e) => e.child), ['b']);
  await sup.stopChild('missing');
  await t.rejects(sup.startChild<CounterMsg>({ id: 'a', start: () => new Counter() }), /already exists/);
});

t.test('startChild rejects when the first start() fails and keeps nothing', async (t) => {
  const log: string[] = [];
  const { sup, events } = supervisor(t);
  const bad = new Error('no port');
  const c = new Counter('x', log);
  c.start = () => {
    throw bad;
  };
  await t.rejects(sup.startChild<CounterMsg>({ id: 'x', start: () => c }), bad);
  t.same(sup.childIds, []);
  t.equal(events.of('child-started').length, 0);
  t.same(log, ['stop x'], 'the half-started instance was asked to release what it took');
  await sup.startChild<CounterMsg>({ id: 'x', start: () => new Counter() });
  t.same(sup.childIds, ['x'], 'the id can be used again');
});

t.test('a child whose stop() hangs is abandoned after shutdownMs and the others still stop', async (t) => {
  const log: string[] = [];
  const { sup, events } = supervisor(t);
  await sup.startChild<CounterMsg>({ id: 'a', start: () => new Counter('a', log) });
  const hung = new Counter('b', log);
  hung.stop = () => forever();
  const b = await sup.startChild<CounterMsg>({ id: 'b', shutdownMs: 40, start: () => hung });
  const started = performance.now();
  await sup.stop();
  const elapsed = performance.now() - started;
  t.ok(elapsed >= 35, `waited ${elapsed.toFixed(1)} ms for the hung child`);
  t.ok(elapsed < DEFAULT_SHUTDOWN_MS, 'did not wait for the default shutdown time');
  t.same(log, ['start a', 'start b', 'stop a'], 'a was stopped after b was abandoned');
  t.same(
    events.of('child-stopped').map((e) => [e.child, e.abandoned]),
    [
      ['b', true],
      ['a', false],
    ],
  );
  t.throws(() => b.tell({ type: 'add', n: 1 }), ActorStoppedError);
});

t.test('a child stuck in receive is abandoned after shutdownMs; its queued requests are rejected at once', async (t) => {
  const { sup, events } = supervisor(t);
  const ref = await sup.startChild<CounterMsg>({ id: 'stuck', shutdownMs: 40, start: () => new Counter() });
  await occupy(ref); // never released
  const pending = get(ref).catch((e: unknown) => e);
  const stopping = sup.stop();
  t.type(await pending, ActorStoppedError, 'rejected before the shutdown time ran out');
  await stopping;
  t.match(events.of('child-stopped'), [{ child: 'stuck', abandoned: true }]);
});

t.test('a restart is not blocked by an old instance whose stop() hangs', async (t) => {
  const { sup, events } = supervisor(t);
  let made = 0;
  const ref = await sup.startChild<CounterMsg>({
    id: 'c',
    shutdownMs: 30,
    start: () => {
      const c = new Counter();
      if (++made === 1) c.stop = () => forever();
      return c;
    },
  });
  ref.tell({ type: 'crash', error: new Error('boom') });
  ref.tell({ type: 'add', n: 9 });
  await events.until('child-restarted');
  t.equal(await get(ref), 9);
});

t.test('stop() during a pending restart cancels it; no instance is left running', async (t) => {
  const log: string[] = [];
  const { sup, events } = supervisor(t, { backoffInitialMs: 10_000, backoffMaxMs: 10_000 });
  let made = 0;
  const ref = await sup.startChild<CounterMsg>({ id: 'c', start: () => new Counter(`c${++made}`, log) });
  ref.tell({ type: 'crash', error: new Error('boom') });
  await events.until('child-crashed');
  const started = performance.now();
  await sup.stop();
  t.ok(performance.now() - started < 10_000, 'did not wait for the 10 s backoff');
  t.equal(made, 1);
  t.same(log, ['start c1', 'stop c1']);
});

t.test('stop() while a restarted instance is starting stops that instance too', async (t) => {
  const log: string[] = [];
  const { sup, events } = supervisor(t);
  const starting = deferred();
  const gate = deferred();
  let made = 0;
  const ref = await sup.startChild<CounterMsg>({
    id: 'c',
    start: () => {
      const id = `c${++made}`;
      const c = new Counter(id, log);
      if (made === 2)
        c.start = async () => {
          log.push(`start ${id}`);
          starting.resolve();
          await gate.promise;
        };
      return c;
    },
  });
  ref.tell({ type: 'crash', error: new Error('boom') });
  await starting.promise;
  const stopping = sup.stop();
  gate.resolve();
  await stopping;
  t.same(log, ['start c1', 'stop c1', 'start c2', 'stop c2'], 'the instance that finished starting during stop was stopped');
  t.equal(events.of('child-restarted').length, 0, 'no restart reported after stop began');
  t.throws(() => ref.tell({ type: 'add', n: 1 }), ActorStoppedError);
});
