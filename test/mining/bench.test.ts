import t from 'tap';
import { MiningBenchOptionError, formatMiningBench, runMiningBench, type MiningBenchResult } from '../../src/mining/bench.js';
import { availableVariants, kernelChoice } from '../../src/mining/kernel.js';

t.test('a short run prints one JSON object with kernels, pool and cancellation', async (t) => {
  let text = '';
  const result = await runMiningBench({ json: true, seconds: 5, maxWorkers: 1, output: { write: (s: string) => (text += s) } });
  t.equal(text.trim().split('\n').length, 1, 'one line');
  const json = JSON.parse(text) as MiningBenchResult;
  t.same(json, JSON.parse(JSON.stringify(result)), 'the printed object is the returned one');
  t.same(
    json.kernels.map((k) => k.name),
    ['noble', 'node-crypto', ...[...availableVariants()].reverse()],
    'baselines first, then every kernel variant',
  );
  for (const k of json.kernels) t.ok(k.hashesPerSecond > 0 && k.hashesPerCpuSecond > 0, `${k.name} measured`);
  t.same(json.pool.map((p) => p.workers), [1]);
  t.ok(json.pool[0]!.hashesPerSecond > 0, 'the pool hashed');
  t.equal(json.cancellation.trials, 10);
  t.ok(json.cancellation.medianMs >= 0);
  t.ok(json.machine.cores >= 1 && json.machine.node === process.version);
  t.equal(json.ratios.kernelOverNoble.noble, 1);
  t.equal(json.ratios.poolScaling['1'], 1);
  t.same({ variant: json.defaultVariant, reason: json.defaultVariantReason }, kernelChoice(), 'it says which kernel the pool runs and why');

  const table = formatMiningBench(result);
  for (const needle of ['@noble/hashes', 'node:crypto', 'kernel ts', 'kernel wasm-simd', `pool kernel: ${json.defaultVariant} (${json.defaultVariantReason})`, '1 worker', 'cancellation', json.machine.node]) {
    t.match(table, needle, `the table shows ${needle}`);
  }
});

t.test('invalid options are rejected', async (t) => {
  await t.rejects(runMiningBench({ seconds: 1 }), MiningBenchOptionError);
  await t.rejects(runMiningBench({ maxWorkers: 0 }), { code: 'ERR_MINING_BENCH_OPTION' });
});
