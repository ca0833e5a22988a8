/**
 * The tracker's liveness loop alone: a real member table, a probe the test
 * answers by hand (the real probe over TCP is tested in liveness.test.ts),
 * a fake clock. Rounds, removals, the concurrency bound, rounds that never
 * overlap, and stopping.
 */
import t from 'tap';
import { LivenessLoop, type LivenessInit, type LivenessRound, type ProbeResult } from '../../src/tracker/liveness.js';
import { MemberTable, type TrackerMember } from '../../src/tracker/member-table.js';
import { ManualClock } from '../../src/core/clock.js';

interface PendingProbe {
  member: TrackerMember;
  answer(result: ProbeResult): void;
}

/** A probe whose answers the test gives: each call waits in `pending` until answered. */
class ManualProbe {
  readonly pending: PendingProbe[] = [];
  readonly probed: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private waiters: Array<() => void> = [];

  readonly probe = (member: TrackerMember): Promise<ProbeResult> => {
    this.probed.push(member.peerId);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise((resolve) => {
      this.pending.push({
        member,
        answer: (r) => {
          this.inFlight--;
          resolve(r);
        },
      });
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    });
  };

  /** Resolves once at least `n` probes wait for an answer. */
  async waiting(n: number): Promise<void> {
    while (this.pending.length < n) await new Promise<void>((r) => this.waiters.push(r));
  }

  /** Answers the oldest waiting probe. */
  answerNext(result: ProbeResult): TrackerMember {
    const p = this.pending.shift();
    if (!p) throw new Error('no probe waiting');
    p.answer(result);
    return p.member;
  }
}

const ALIVE = (nodeId: string): ProbeResult => ({ alive: true, nodeId });
const DEAD: ProbeResult = { alive: false, reason: 'connect-failed', detail: 'ECONNREFUSED' };

function setup(members: number, init: Partial<LivenessInit> = {}) {
  const clock = new ManualClock(1_000);
  const table = new MemberTable({ randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)), clock });
  for (let i = 0; i < members; i++) table.join({ host: '127.0.0.1', port: 9000 + i });
  const probe = new ManualProbe();
  const removed: Array<{ peerId: string; reason: string }> = [];
  const rounds: LivenessRound[] = [];
  const loop = new LivenessLoop({
    table,
    probe: probe.probe,
    intervalMs: 3_600_000,
    clock,
    onRemoved: (m, reason) => removed.push({ peerId: m.peerId, reason }),
    onRound: (r) => rounds.push(r),
    ...init,
  });
  return { clock, table, probe, removed, rounds, loop };
}

t.test('a round marks answering members alive and removes the others at once', async (t) => {
  const { clock, table, probe, removed, rounds, loop } = setup(3);
  const [a, b, c] = table.list();
  const round = loop.checkNow();
  await probe.waiting(3);
  clock.advance(40);
  probe.answerNext(ALIVE('node-a'));
  probe.answerNext(DEAD);
  await probe.waiting(1);
  t.same(removed, [{ peerId: b!.peerId, reason: 'connect-failed' }], 'removed as soon as its probe failed, before the round ends');
  t.notOk(table.has(b!.peerId));
  probe.answerNext(ALIVE('node-c'));
  t.same(await round, { checked: 3, alive: 2, removed: [b!.peerId], ms: 40 });
  t.same(rounds, [{ checked: 3, alive: 2, removed: [b!.peerId], ms: 40 }]);
  t.match(table.get(a!.peerId), { lastAliveAt: 1_040, nodeId: 'node-a' });
  t.match(table.get(c!.peerId), { lastAliveAt: 1_040, nodeId: 'node-c' });
});

t.test('at most maxConcurrent probes run at once, and every member is probed once per round', async (t) => {
  const { table, probe, loop } = setup(10, { maxConcurrent: 3 });
  const round = loop.checkNow();
  for (let answered = 0; answered < 10; answered++) {
    await probe.waiting(1);
    t.ok(probe.inFlight <= 3);
    probe.answerNext(ALIVE('n'));
  }
  t.match(await round, { checked: 10, alive: 10 });
  t.equal(probe.maxInFlight, 3);
  t.same([...probe.probed].sort(), table.list().map((m) => m.peerId).sort());
  t.throws(() => setup(0, { maxConcurrent: 0 }), new RangeError('options.maxConcurrent must be a positive integer'));
  t.throws(() => setup(0, { intervalMs: 0 }), new RangeError('options.intervalMs must be a positive integer'));
});

t.test('a member that left and joined again during the round is not removed by the old probe', async (t) => {
  const { table, probe, removed, loop } = setup(1);
  const [old] = table.list();
  const round = loop.checkNow();
  await probe.waiting(1);
  table.remove(old!);
  const again = table.join({ host: old!.host, port: old!.port });
  probe.answerNext(DEAD);
  t.same(await round, { checked: 1, alive: 0, removed: [], ms: 0 });
  t.same(removed, []);
  t.ok(again.ok && table.has(again.member.peerId));
  t.equal(table.size, 1);
});

t.test('members who join during a round wait for the next one', async (t) => {
  const { table, probe, loop } = setup(1);
  const round = loop.checkNow();
  await probe.waiting(1);
  table.join({ host: '127.0.0.1', port: 1 });
  probe.answerNext(ALIVE('n'));
  t.match(await round, { checked: 1 });
  const next = loop.checkNow();
  await probe.waiting(2);
  probe.answerNext(ALIVE('n'));
  probe.answerNext(ALIVE('n'));
  t.match(await next, { checked: 2 });
});

t.test('rounds never overlap: checkNow queues behind the round in progress', async (t) => {
  const { probe, loop } = setup(1);
  const first = loop.checkNow();
  const second = loop.checkNow();
  await probe.waiting(1);
  t.equal(probe.probed.length, 1, 'the second round has not started');
  probe.answerNext(ALIVE('n'));
  await first;
  await probe.waiting(1);
  t.equal(probe.probed.length, 2);
  probe.answerNext(ALIVE('n'));
  t.match(await second, { checked: 1, alive: 1 });
});

t.test('stop: the round in progress probes nobody more and removes nobody; no round follows', async (t) => {
  const { table, probe, removed, rounds, loop } = setup(3, { maxConcurrent: 1, intervalMs: 1 });
  loop.start();
  await probe.waiting(1);
  const stopped = loop.stop();
  let done = false;
  void stopped.then(() => (done = true));
  await Promise.resolve();
  t.notOk(done, 'stop waits for the probe in flight');
  probe.answerNext(DEAD);
  await stopped;
  t.equal(probe.probed.length, 1, 'the other members were not probed');
  t.same(removed, [], 'a result after stop changes nothing');
  t.equal(table.size, 3);
  t.match(rounds, [{ checked: 3, alive: 0, removed: [] }], 'the cut-short round still reports');
  loop.start();
  t.same(await loop.stop(), undefined, 'stop is idempotent and a stopped loop does not start again');
  t.equal(probe.pending.length, 0);
});

t.test('start: rounds follow each other every intervalMs; a round that fails is reported and the loop goes on', async (t) => {
  const errors: unknown[] = [];
  const rounds: LivenessRound[] = [];
  let calls = 0;
  let twoRounds!: () => void;
  const ran = new Promise<void>((resolve) => (twoRounds = resolve));
  const { loop } = setup(1, {
    intervalMs: 1,
    probe: async () => {
      if (++calls === 1) throw new Error('probe bug');
      return ALIVE('n');
    },
    onError: (err) => errors.push(err),
    onRound: (r) => {
      rounds.push(r);
      if (rounds.length === 2) twoRounds();
    },
  });
  loop.start();
  loop.start();
  await ran;
  await loop.stop();
  t.match(errors, [{ message: 'probe bug' }], 'the first round failed');
  t.equal(calls, rounds.length + 1, 'one probe per round: a second start() added no loop');
  t.match(rounds[0], { checked: 1, alive: 1 });
});

t.test('a round probes at most maxProbesPerRound members, those checked longest ago first', async (t) => {
  const { table, probe, loop, clock } = setup(10, { maxProbesPerRound: 4, maxConcurrent: 4 });
  const ids = table.list().map((m) => m.peerId);
  const runRound = async (n: number): Promise<string[]> => {
    const before = probe.probed.length;
    const round = loop.checkNow();
    await probe.waiting(n);
    while (probe.pending.length > 0) probe.answerNext(ALIVE('n'));
    t.match(await round, { checked: n, alive: n });
    clock.advance(1_000);
    return probe.probed.slice(before);
  };
  t.same(await runRound(4), ids.slice(0, 4), 'the first four in join order');
  t.same(await runRound(4), ids.slice(4, 8), 'then the four never checked');
  t.same(await runRound(4), [...ids.slice(8, 10), ...ids.slice(0, 2)], 'then the last two and the two checked longest ago');
  t.same(await runRound(4), ids.slice(2, 6));
  t.throws(() => setup(0, { maxProbesPerRound: 0 }), new RangeError('options.maxProbesPerRound must be a positive integer'));
});
