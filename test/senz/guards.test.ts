import t from 'tap';
import { checkTime, RateLimiter, ReplayCache } from '../../src/senz/guards.js';

t.test('rate limiter: a burst, then the sustained rate, per address', async (t) => {
  const r = new RateLimiter({ perSecond: 10, burst: 3, maxAddresses: 100 });
  t.same([r.take('a', 0), r.take('a', 0), r.take('a', 0), r.take('a', 0)], [true, true, true, false]);
  t.ok(r.take('b', 0), 'another address has its own bucket');
  t.notOk(r.take('a', 50), 'half a token after 50 ms');
  t.ok(r.take('a', 100), 'one token after 100 ms');
});

t.test('rate limiter forgets the least recently seen address beyond its bound', async (t) => {
  const r = new RateLimiter({ perSecond: 1, burst: 1, maxAddresses: 2 });
  r.take('a', 0);
  r.take('b', 0);
  r.take('c', 0);
  t.equal(r.size, 2);
  t.ok(r.take('a', 0), 'a was forgotten and starts with a full bucket');
});

t.test('replay cache: a remembered signature is refused until its ttl ends', async (t) => {
  const c = new ReplayCache(1000, 10);
  t.equal(c.check('s', 0), 'fresh');
  c.remember('s', 0);
  t.equal(c.check('s', 999), 'replayed');
  t.equal(c.check('s', 1000), 'fresh');
});

t.test('replay cache: full of unexpired entries it refuses new ones instead of forgetting', async (t) => {
  const c = new ReplayCache(1000, 2);
  c.remember('a', 0);
  c.remember('b', 0);
  t.equal(c.check('c', 10), 'full');
  t.equal(c.check('a', 10), 'replayed');
  t.equal(c.check('c', 1000), 'fresh', 'expired entries are pruned');
  t.equal(c.size, 0);
});

t.test('#time window', async (t) => {
  const now = 1_700_000_000_000;
  t.same(checkTime('1700000000', true, now, 1000, true), { ok: true, seconds: 1700000000 });
  t.same(checkTime('1700000000.999', true, now, 1000, true), { ok: true, seconds: 1700000000.999 });
  t.same(checkTime('1700000002', true, now, 1000, true), { ok: false, reason: 'out-of-window' });
  t.same(checkTime('17e8', true, now, 1000, true), { ok: false, reason: 'malformed' });
  t.same(checkTime(undefined, true, now, 1000, true), { ok: false, reason: 'malformed' });
  t.same(checkTime(undefined, false, now, 1000, true), { ok: false, reason: 'missing' });
  t.same(checkTime(undefined, false, now, 1000, false), { ok: true, seconds: undefined });
});
