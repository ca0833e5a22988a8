import t from 'tap';
import { ActorCell, Reply, request, type Actor, type ActorContext } from '../../src/actors/runtime/actor.js';
import { MailboxFullError } from '../../src/actors/runtime/errors.js';
import { Supervisor } from '../../src/actors/runtime/supervisor.js';

type TickMsg = { type: 'tick' } | { type: 'count'; reply: Reply<number> } | { type: 'fact'; n: number } | { type: 'sum'; reply: Reply<number> };

/** Counts its ticks; arms a fast timer in start(). */
class Ticker implements Actor<TickMsg> {
  ticks = 0;
  sum = 0;
  constructor(
    private readonly intervalMs: number,
    private readonly onTick?: () => void,
  ) {}
  start(ctx: ActorContext<TickMsg>): void {
    ctx.every(this.intervalMs, { type: 'tick' });
  }
  receive(msg: TickMsg): void {
    switch (msg.type) {
      case 'tick':
        this.ticks++;
        this.onTick?.();
        return;
      case 'count':
        msg.reply.resolve(this.ticks);
        return;
      case 'fact':
        this.sum += msg.n;
        return;
      case 'sum':
        msg.reply.resolve(this.sum);
        return;
    }
  }
}

t.test('ctx.every delivers its message repeatedly and stops with the actor', async (t) => {
  let seen = 0;
  let resolveThree!: () => void;
  const three = new Promise<void>((r) => (resolveThree = r));
  const cell = new ActorCell<TickMsg>('ticker', 10, () => undefined);
  await cell.activate(new Ticker(2, () => ++seen === 3 && resolveThree()));
  await three;
  const n = await request(cell, 'count', {});
  t.ok(n >= 3, 'the timer ticked at least three times');
  await cell.stop();
  const after = seen;
  await new Promise((r) => setTimeout(r, 20));
  t.equal(seen, after, 'no tick after the stop: the cell cleared its timer');
});

t.test('a restart clears the old instance’s timers: only the new instance’s timer runs', async (t) => {
  const cell = new ActorCell<TickMsg>('ticker', 10, () => undefined);
  let firstTicked!: () => void;
  const firstP = new Promise<void>((r) => (firstTicked = r));
  const first = new Ticker(2, () => firstTicked());
  await cell.activate(first);
  await firstP;
  // What a supervisor does on a restart: deactivate the old instance, activate a fresh one.
  await cell.deactivate();
  const frozen = first.ticks;
  let secondTicks!: () => void;
  const secondP = new Promise<void>((r) => (secondTicks = r));
  const second = new Ticker(2, () => second.ticks >= 3 && secondTicks());
  await cell.activate(second);
  await secondP;
  t.equal(first.ticks, frozen, 'the old instance got no tick after it was replaced');
  t.ok(second.ticks >= 3, 'the new instance ticks');
  await cell.stop();
});

t.test('ctx.deliver enqueues facts; a full mailbox crashes the actor and the supervisor restarts it', async (t) => {
  let ctxOf!: ActorContext<TickMsg>;
  let gate!: () => void;
  const blocked = new Promise<void>((r) => (gate = r));
  class Slow implements Actor<TickMsg> {
    start(ctx: ActorContext<TickMsg>): void {
      ctxOf = ctx;
    }
    async receive(msg: TickMsg): Promise<void> {
      if (msg.type === 'fact' && msg.n === 0) await blocked;
      if (msg.type === 'fact' && msg.n === 2) drained();
      if (msg.type === 'sum') msg.reply.resolve(-1);
    }
  }
  let drained!: () => void;
  const drainedP = new Promise<void>((r) => (drained = r));
  const crashes: unknown[] = [];
  let restarted!: () => void;
  const restartedP = new Promise<void>((r) => (restarted = r));
  const sup = new Supervisor({
    name: 'root',
    backoffInitialMs: 1,
    backoffMaxMs: 1,
    onEvent: (e) => {
      if (e.type === 'child-crashed') crashes.push(e.error);
      if (e.type === 'child-restarted') restarted();
    },
  });
  const ref = await sup.startChild<TickMsg>({ id: 'slow', mailbox: 2, start: () => new Slow() });
  ctxOf.deliver({ type: 'fact', n: 0 }); // handled now, blocks
  await new Promise((r) => setImmediate(r));
  ctxOf.deliver({ type: 'fact', n: 1 });
  ctxOf.deliver({ type: 'fact', n: 2 }); // mailbox now full (2)
  ctxOf.deliver({ type: 'fact', n: 3 }); // overflow: a crash, not a silent drop
  gate();
  await restartedP;
  await drainedP;
  t.equal(crashes.length, 1, 'one crash reported');
  t.ok(crashes[0] instanceof MailboxFullError, 'the crash is the full mailbox');
  t.equal(await request(ref, 'sum', {}), -1, 'the restarted instance handled the facts queued before the crash, and answers');
  await sup.stop();
});

t.test('request infers the reply type from the message union and rejects an unknown tag at compile time', async (t) => {
  const cell = new ActorCell<TickMsg>('r', 10, () => undefined);
  await cell.activate(new Ticker(1_000_000));
  cell.tell({ type: 'fact', n: 5 });
  const sum: number = await request(cell, 'sum', {});
  t.equal(sum, 5);
  // @ts-expect-error 'fact' carries no reply channel: it is not a request
  void (() => request(cell, 'fact', { n: 1 }));
  await cell.stop();
});

t.test('ctx.every refuses a non-positive interval', async (t) => {
  const cell = new ActorCell<TickMsg>('bad', 10, () => undefined);
  await t.rejects(cell.activate(new Ticker(0)), RangeError);
  await cell.stop();
});
