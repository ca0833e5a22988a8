/**
 * Misbehaviour scores, bans and token buckets on a fake clock: scores decay
 * with their half-life, a subject is banned at the ban score, bans end,
 * memory stays bounded.
 */
import t from 'tap';
import { MisbehaviourBook, SCORE_HALF_LIFE_MS, TokenBucket } from '../../src/actors/misbehaviour.js';

t.test('points add up to a ban; the ban ends after its time', async (t) => {
  const book = new MisbehaviourBook({ banScore: 100, banMs: 60_000 });
  for (let i = 0; i < 4; i++) t.same(book.add(['key:a', 'ip:1.2.3.4'], 20, 1_000).banned, []);
  t.equal(Math.round(book.score('key:a', 1_000)), 80);
  t.same(book.add(['key:a', 'ip:1.2.3.4'], 20, 1_000).banned, ['key:a', 'ip:1.2.3.4'], 'the fifth low-tolerance fault bans');
  t.match(book.banned(['key:b', 'ip:1.2.3.4'], 2_000), { subject: 'ip:1.2.3.4', untilMs: 61_000 });
  t.equal(book.banned(['key:b'], 2_000), undefined, 'other subjects are untouched');
  t.equal(book.banned(['key:a'], 61_000), undefined, 'the ban is over');
  t.equal(book.score('key:a', 61_000), 0, 'and the score starts again from zero');
});

t.test('scores decay with their half-life, so a rare fault never adds up to a ban', async (t) => {
  const book = new MisbehaviourBook({ banScore: 100, banMs: 60_000 });
  book.add(['key:a'], 80, 0);
  t.equal(Math.round(book.score('key:a', SCORE_HALF_LIFE_MS)), 40);
  let now = 0;
  for (let i = 0; i < 100; i++) {
    now += SCORE_HALF_LIFE_MS;
    t.same(book.add(['key:a'], 20, now).banned, [], `fault ${i} after a half-life is tolerated`);
  }
  t.same(book.add(['key:b'], 100, now).banned, ['key:b'], 'a fatal fault bans at once');
});

t.test('banning can be switched off with a ban time of 0', async (t) => {
  const book = new MisbehaviourBook({ banScore: 100, banMs: 0 });
  t.same(book.add(['key:a'], 1_000, 0).banned, []);
  t.equal(book.banned(['key:a'], 0), undefined);
});

t.test('memory is bounded: scores and bans past their caps are dropped', async (t) => {
  const book = new MisbehaviourBook({ banScore: 100, banMs: 60_000, maxSubjects: 100, maxBans: 50 });
  for (let i = 0; i < 1_000; i++) book.add([`ip:${i}`], 10, i);
  t.ok(book.scoredCount <= 100, `${book.scoredCount} scores`);
  for (let i = 0; i < 1_000; i++) book.add([`key:${i}`], 100, i);
  t.ok(book.banCount <= 50, `${book.banCount} bans`);
  t.ok(book.banned(['key:999'], 1_000), 'the newest bans are kept');
});

t.test('a token bucket grants its burst, then its rate', async (t) => {
  const b = new TokenBucket(0.1, 1_000, 0);
  t.equal(b.take(1_500, 0), 1_000, 'the burst');
  t.equal(b.take(10, 0), 0, 'then nothing');
  t.equal(b.take(10, 10_000), 1, '0.1 per second');
  t.equal(b.take(10, 110_000), 10);
  t.equal(b.available(1e12), 1_000, 'never above the burst');
  t.throws(() => new TokenBucket(-1, 1, 0), RangeError);
});
