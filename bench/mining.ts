/**
 * The mining benchmark as a script: `node dist/bench/mining.js [--json]
 * [--seconds N] [--max-workers N]` (the same as `cheesechain bench mining`).
 */
import { parseArgs } from 'node:util';
import { runMiningBench } from '../src/mining/bench.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    seconds: { type: 'string' },
    'max-workers': { type: 'string' },
  },
});

await runMiningBench({
  json: values.json,
  ...(values.seconds !== undefined ? { seconds: Number(values.seconds) } : {}),
  ...(values['max-workers'] !== undefined ? { maxWorkers: Number(values['max-workers']) } : {}),
});
