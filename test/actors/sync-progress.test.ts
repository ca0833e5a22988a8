/** The sync progress state machine on a fake clock. */
import t from 'tap';
import { SyncProgress } from '../../src/actors/sync-progress.js';

t.test('reports every interval while behind, with the rate and the time left, then once when done', async (t) => {
  const p = new SyncProgress(1_000, 10_000, 10);
  p.claim(1_000);
  t.equal(p.sample(0, 0), undefined, 'the first sample only starts the clock');
  t.equal(p.sample(500, 50), undefined, 'nothing within the interval');
  const r = p.sample(1_000, 100);
  t.match(r, { type: 'sync-progress', height: 100, targetHeight: 1_000, blocksPerSecond: 100, secondsLeft: 9, done: false });
  t.equal(p.sample(1_500, 150), undefined);
  t.match(p.sample(2_000, 400), { height: 400, blocksPerSecond: 200, secondsLeft: 3 });
  t.match(p.sample(2_100, 1_000), { height: 1_000, targetHeight: 1_000, secondsLeft: 0, done: true });
  t.equal(p.sample(3_100, 1_000), undefined, 'silent once caught up');
});

t.test('a node a few blocks behind is relaying, not syncing', async (t) => {
  const p = new SyncProgress(1_000, 10_000, 10);
  p.claim(5);
  for (let now = 0; now < 5_000; now += 500) t.equal(p.sample(now, 0), undefined);
});

t.test('the rate is measured over the window only, and is unknown while nothing connects', async (t) => {
  const p = new SyncProgress(1_000, 2_000, 10);
  p.claim(100);
  p.sample(0, 0);
  p.sample(1_000, 50);
  p.sample(2_000, 50);
  p.sample(3_000, 50);
  t.match(p.sample(4_000, 50), { blocksPerSecond: 0, secondsLeft: undefined, done: false });
});
