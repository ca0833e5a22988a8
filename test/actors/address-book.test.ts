/**
 * The bucketed address book: one source cannot flush it, good addresses
 * move to the tried table, static peers stay, selection is seeded.
 */
import t from 'tap';
import { seededRandom } from '../../src/core/clock.js';
import { AddressBook, BUCKET_SIZE, NEW_BUCKETS_PER_SOURCE_GROUP, addressKey, bookGroup } from '../../src/actors/address-book.js';


const book = () => new AddressBook({ salt: new Uint8Array(32).fill(7), random: seededRandom(1) });

t.test('a flood of addresses from one source fills only its own buckets', async (t) => {
  const b = book();
  const honest: string[] = [];
  for (let i = 0; i < 40; i++) {
    const a = { host: `${20 + i}.${i}.1.1`, port: 8330 };
    if (b.add(a, bookGroup(`${100 + i}.0.0.1`, 8330))) honest.push(addressKey(a));
  }
  for (const k of honest.slice(0, 10)) b.markGood(k);
  t.ok(honest.length >= 35, `${honest.length} honest addresses from 40 sources`);
  for (let i = 0; i < 20_000; i++) b.add({ host: `9.${(i >> 8) & 255}.${i & 255}.1`, port: 1 + (i % 60_000) }, bookGroup('9.9.9.9', 1));
  const kept = honest.filter((k) => b.get(k));
  t.ok(kept.length >= honest.length * 0.8, `${kept.length} of ${honest.length} honest addresses survive 20,000 from one source`);
  t.ok(b.counts.new - (honest.length - 10) <= NEW_BUCKETS_PER_SOURCE_GROUP * BUCKET_SIZE + 40, `the attacker holds at most its buckets (${b.counts.new} new in all)`);
  t.equal(b.counts.tried, 10, 'the tried table is out of its reach');
});

t.test('a failing address can be overwritten, a healthy one cannot', async (t) => {
  const b = book();
  const first = { host: '1.1.1.1', port: 1 };
  t.ok(b.add(first, 'src'));
  let same: { host: string; port: number } | undefined;
  for (let p = 2; p < 5_000 && !same; p++) {
    const probe = new AddressBook({ salt: new Uint8Array(32).fill(7), random: seededRandom(1) });
    probe.add(first, 'src');
    if (!probe.add({ host: '1.1.1.1', port: p }, 'src')) same = { host: '1.1.1.1', port: p };
  }
  t.ok(same, 'found an address hashing to the same slot');
  t.notOk(b.add(same!, 'src'), 'the healthy occupant stays');
  for (let i = 0; i < 3; i++) b.markFailed(addressKey(first), 0);
  t.ok(b.add(same!, 'src'), 'a terrible occupant gives way');
  t.equal(b.get(addressKey(first)), undefined);
});

t.test('static peers come first and are never evicted; backoff delays a failed one', async (t) => {
  const b = book();
  b.addStatic({ host: '127.0.0.1', port: 18330 });
  for (let i = 0; i < 5; i++) b.add({ host: '127.0.0.1', port: 20_000 + i }, 'tracker');
  const order = b.candidates(0, () => true).map(([k]) => k);
  t.equal(order[0], '127.0.0.1:18330');
  t.equal(order.length, 6, 'loopback peers are told apart by port');
  b.markFailed('127.0.0.1:18330', 0);
  t.notOk(b.candidates(100, () => true).some(([k]) => k === '127.0.0.1:18330'), 'backing off');
  t.ok(b.candidates(1_000, () => true).some(([k]) => k === '127.0.0.1:18330'), 'back after the delay');
  b.markGood('127.0.0.1:18330', 'peer1');
  t.match(b.get('127.0.0.1:18330'), { static: true, failures: 0, nodeId: 'peer1' });
});

t.test('sample returns distinct addresses, at most n', async (t) => {
  const b = book();
  for (let i = 0; i < 50; i++) b.add({ host: `10.0.${i}.1`, port: 1 }, `s${i}`);
  const s = b.sample(20);
  t.equal(s.length, 20);
  t.equal(new Set(s.map(addressKey)).size, 20);
});
