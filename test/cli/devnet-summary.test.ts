import t from 'tap';
import { blockTimeSummary, intervalStats } from '../../src/cli/devnet-command.js';

t.test('interval statistics of header times: median (odd and even counts), mean, longest gap', async (t) => {
  t.equal(intervalStats([100]), undefined, 'one time has no interval');
  t.same(intervalStats([100, 103, 110, 111]), { blocks: 3, median: 3, mean: 11 / 3, longest: 7 });
  t.same(intervalStats([0, 2, 6, 12, 13]), { blocks: 4, median: 3, mean: 13 / 4, longest: 6 }, 'even count: mean of the middle two');
});

t.test('the block-time line judges the median against ±30 % of the target and the longest gap against 10 targets', async (t) => {
  const steady = [0, 4, 9, 13, 18, 24, 28];
  t.match(blockTimeSummary(steady, 5), /median 4\.5 s \(target 5 s, within ±30 %;.*median 3\.47 s\), mean 4\.67 s \(within ±30 %\), longest gap 6 s \(1\.2 targets, within the limit of 10\)/);
  t.match(blockTimeSummary([0, 1, 2, 3, 4], 5), /median 1\.0 s \(target 5 s, outside ±30 %.*mean 1\.00 s \(outside ±30 %\)/);
  t.match(blockTimeSummary([0, 5, 10, 61, 66], 5), /longest gap 51 s \(10\.2 targets, over the limit of 10\)/);
  t.match(blockTimeSummary([7], 5), /fewer than two blocks/);
});
