/**
 * The tracker's member table alone: unique PIDs, rejoin by address, the
 * member limit, removal of exactly the record a liveness round saw, and
 * sampling on injected randomness and clock.
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { MAX_PID_DRAWS, MemberTable } from '../../src/tracker/member-table.js';
import { PID_PATTERN, PID_RANDOM_BYTES } from '../../src/tracker/protocol.js';
import { ManualClock } from '../../src/core/clock.js';

/** Deterministic "random" bytes: a counter, so PIDs differ and samples are reproducible. */
function counterBytes(): (n: number) => Uint8Array {
  let next = 0;
  return (n) => Uint8Array.from({ length: n }, () => next++ & 0xff);
}

function joined(table: MemberTable, host: string, port: number): string {
  const r = table.join({ host, port });
  if (!r.ok) throw new Error(`join refused: ${r.code}`);
  return r.member.peerId;
}

t.test('a join hands out a unique PID and records the member with the clock', async (t) => {
  const clock = new ManualClock(5_000);
  const table = new MemberTable({ randomBytes: counterBytes(), clock });
  const r = table.join({ host: '127.0.0.1', port: 9001 });
  t.ok(r.ok);
  if (!r.ok) return;
  t.match(r.member.peerId, PID_PATTERN);
  t.same(r.member, { peerId: r.member.peerId, host: '127.0.0.1', port: 9001, joinedAt: 5_000, lastAliveAt: undefined, nodeId: undefined, source: '127.0.0.1' });
  t.equal(r.rejoin, false);
  clock.advance(10);
  const other = joined(table, '127.0.0.1', 9002);
  t.not(other, r.member.peerId);
  t.same(table.snapshot().map((m) => [m.peerId, m.joinedAt]), [[r.member.peerId, 5_000], [other, 5_010]], 'join order, each with its join time');
  r.member.port = 1;
  t.equal(table.get(r.member.peerId)?.port, 9001, 'the result is a copy: changing it changes nothing');
});

t.test('joining again from the same HOST:PORT gives the same PID back', async (t) => {
  const table = new MemberTable({ randomBytes: counterBytes(), clock: new ManualClock() });
  const first = joined(table, 'example.org', 9001);
  const again = table.join({ host: 'example.org', port: 9001 });
  t.match(again, { ok: true, rejoin: true, member: { peerId: first } });
  t.equal(table.size, 1);
  t.not(joined(table, 'example.org', 9002), first, 'another port is another member');
});

t.test('the table is bounded: a join beyond maxMembers is refused with TRACKER_FULL, a rejoin is not', async (t) => {
  const table = new MemberTable({ maxMembers: 2, randomBytes: counterBytes(), clock: new ManualClock() });
  const a = joined(table, 'h', 1);
  joined(table, 'h', 2);
  t.same(table.join({ host: 'h', port: 3 }), { ok: false, code: 'TRACKER_FULL', message: 'the tracker holds 2 members' });
  t.match(table.join({ host: 'h', port: 1 }), { ok: true, rejoin: true, member: { peerId: a } });
  t.ok(table.remove(table.get(a)!));
  t.match(table.join({ host: 'h', port: 3 }), { ok: true, rejoin: false }, 'room again after a removal');
  t.throws(() => new MemberTable({ maxMembers: 0, randomBytes: counterBytes(), clock: new ManualClock() }), new RangeError('options.maxMembers must be a positive integer'));
});

t.test('a random source that repeats itself cannot make two members share a PID', async (t) => {
  let draws = 0;
  const stuck = (n: number): Uint8Array => {
    draws++;
    return new Uint8Array(n);
  };
  const table = new MemberTable({ randomBytes: stuck, clock: new ManualClock() });
  joined(table, 'h', 1);
  draws = 0;
  t.same(table.join({ host: 'h', port: 2 }), { ok: false, code: 'TRACKER_FULL', message: 'no unique peer id could be drawn' });
  t.equal(draws, MAX_PID_DRAWS, `it gives up after ${MAX_PID_DRAWS} draws`);
  t.equal(table.size, 1);
  // One repeat, then fresh bytes: the second draw is taken.
  let calls = 0;
  const once = new MemberTable({
    randomBytes: (n) => (calls++ < 2 ? new Uint8Array(n) : new Uint8Array(n).fill(7)),
    clock: new ManualClock(),
  });
  const first = joined(once, 'h', 1);
  const second = joined(once, 'h', 2);
  t.equal(first, 'PID' + '00'.repeat(PID_RANDOM_BYTES));
  t.equal(second, 'PID' + '07'.repeat(PID_RANDOM_BYTES));
});

t.test('remove takes exactly the record given: a member that left and joined again is kept', async (t) => {
  const table = new MemberTable({ randomBytes: counterBytes(), clock: new ManualClock() });
  const id = joined(table, 'h', 1);
  const seen = table.get(id)!;
  t.ok(table.remove(seen));
  t.notOk(table.has(id));
  t.notOk(table.remove(seen), 'removing twice removes nothing');
  const back = joined(table, 'h', 1);
  t.not(back, id, 'a removed member joining again gets a new PID');
  t.notOk(table.remove(seen), 'the old record does not remove the new member at the same address');
  t.ok(table.has(back));
  t.match(table.join({ host: 'h', port: 1 }), { rejoin: true, member: { peerId: back } }, 'the address index follows the new member');
});

t.test('markAlive records the answer on the current member only', async (t) => {
  const table = new MemberTable({ randomBytes: counterBytes(), clock: new ManualClock() });
  const id = joined(table, 'h', 1);
  const record = table.get(id)!;
  table.markAlive(record, 'node-a', 1234);
  t.match(table.get(id), { lastAliveAt: 1234, nodeId: 'node-a' });
  table.remove(record);
  const copyBefore = { ...record };
  table.markAlive(record, 'node-b', 9999);
  t.same(record, copyBefore, 'a removed record is left alone');
});

t.test('sample: everyone else in join order when few, a uniform draw without repeats when many', async (t) => {
  const table = new MemberTable({ randomBytes: counterBytes(), clock: new ManualClock() });
  const ids = Array.from({ length: 10 }, (_, i) => joined(table, 'h', i + 1));
  t.same(table.sample(ids[3], 100).map((m) => m.peerId), ids.filter((_, i) => i !== 3), 'all but the asker, in join order');
  t.same(table.sample(undefined, 10).map((m) => m.peerId), ids, 'exactly max: all, no randomness used');
  const picked = table.sample(ids[0], 4).map((m) => m.peerId);
  t.equal(picked.length, 4);
  t.equal(new Set(picked).size, 4, 'no member twice');
  t.notOk(picked.includes(ids[0]!), 'never the asker');
  // Every member shows up across draws (the partial Fisher–Yates reaches the whole table).
  const seen = new Set<string>();
  const rng = new MemberTable({ randomBytes: (n) => new Uint8Array(randomBytes(n)), clock: new ManualClock() });
  for (let i = 0; i < 10; i++) joined(rng, 'h', i + 1);
  for (let i = 0; i < 200; i++) for (const m of rng.sample(undefined, 2)) seen.add(m.peerId);
  t.equal(seen.size, 10);
});


t.test('a full table evicts from the largest source for a smaller one, never between equals', async (t) => {
  const clock = new ManualClock(0);
  const table = new MemberTable({ maxMembers: 6, maxMembersPerSource: 8, randomBytes: counterBytes(), clock });
  const from = (key: string) => ({ key, exempt: false });
  const flood: string[] = [];
  for (let port = 1; port <= 5; port++) {
    const r = table.join({ host: '10.0.0.66', port, source: from('10.0.0.66') });
    if (r.ok) flood.push(r.member.peerId);
  }
  const honest = table.join({ host: '10.0.0.1', port: 1, source: from('10.0.0.1') });
  t.match(honest, { ok: true, rejoin: false }, 'the last free place');
  t.equal(table.size, 6);
  table.markAlive(table.get(flood[4]!)!, 'n', 1);
  const second = table.join({ host: '10.0.0.2', port: 1, source: from('10.0.0.2') });
  t.match(second, { ok: true, evicted: { peerId: flood[3], source: '10.0.0.66' } }, 'the newest member never seen alive of the largest source makes room');
  t.equal(table.countFrom('10.0.0.66'), 4);
  t.equal(table.size, 6);
  t.same(table.join({ host: '10.0.0.66', port: 9, source: from('10.0.0.66') }), { ok: false, code: 'TRACKER_FULL', message: 'the tracker holds 6 members' }, 'the largest source cannot evict others');
  for (const key of ['10.0.0.3', '10.0.0.4']) t.match(table.join({ host: key, port: 1, source: from(key) }), { ok: true, evicted: { source: '10.0.0.66' } });
  t.equal(table.countFrom('10.0.0.66'), 2);
  t.match(table.join({ host: '10.0.0.5', port: 1, source: from('10.0.0.5') }), { ok: true, evicted: { peerId: flood[0] } }, 'the member seen alive is kept the longest');
  t.same(table.join({ host: '10.0.0.6', port: 1, source: from('10.0.0.6') }), { ok: false, code: 'TRACKER_FULL', message: 'the tracker holds 6 members' }, 'one member per source: nobody is evicted for a peer of equal standing');
  t.same(new Set(table.snapshot().map((m) => m.source)).size, 6);
});
