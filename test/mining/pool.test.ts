import t from 'tap';
import { sha256d } from '../../src/core/hash.js';
import { hashMeetsTarget, hashToBigInt } from '../../src/core/pow.js';
import { scanNonces } from '../../src/mining/kernel.js';
import { MiningPool, MiningPoolClosedError, MiningPoolOptionError } from '../../src/mining/pool.js';
import { NONCE_OFFSET, TIME_OFFSET } from '../../src/mining/sha256-job.js';

/** Resolves when every one of `workers` workers has started hashing generation `generation`. */
async function allHashing(pool: MiningPool, generation: number): Promise<void> {
  for (;;) {
    const activity = pool.workerActivity();
    if (activity.length === pool.workers && activity.every((a) => a.generation === generation)) return;
    await new Promise((r) => setTimeout(r, 1));
  }
}

function template(seed: number): Uint8Array {
  const h = new Uint8Array(80);
  for (let i = 0; i < 68; i++) h[i] = (seed * 131 + i * 29) & 0xff;
  const v = new DataView(h.buffer);
  v.setUint32(TIME_OFFSET, 1_800_000_000, true);
  v.setUint32(72, 0x1f00ffff, true);
  return h;
}

function timeOf(h: Uint8Array): number {
  return new DataView(h.buffer, h.byteOffset).getUint32(TIME_OFFSET, true);
}

/** The header bytes outside the time and nonce fields. */
function fixedPart(h: Uint8Array): string {
  return Buffer.concat([h.subarray(0, TIME_OFFSET), h.subarray(TIME_OFFSET + 4, NONCE_OFFSET)]).toString('hex');
}

t.test('two real workers find a valid nonce at a moderate target', async (t) => {
  const pool = new MiningPool({ workers: 2 });
  t.teardown(() => pool.close());
  // About one hash in 2^20 meets it: a few hundred ms.
  const target = (1n << 236n) - 1n;
  const header = template(1);
  const solution = await pool.mine({ header, target }, new AbortController().signal);
  t.ok(solution, 'a solution');
  t.ok(hashMeetsTarget(sha256d(solution!.header), target), 'its hash meets the target');
  t.equal(fixedPart(solution!.header), fixedPart(header), 'only time and nonce differ from the template');
  t.equal(timeOf(solution!.header), timeOf(header), 'found before any time roll');
  t.ok(solution!.hashes > 0, `${solution!.hashes} hashes tried`);
  t.ok(pool.hashRate() > 0, `hash rate ${Math.round(pool.hashRate())} H/s`);
});

t.test('abort resolves null and every worker takes the next work (latency is measured by bench mining)', async (t) => {
  const pool = new MiningPool({ workers: 2 });
  t.teardown(() => pool.close());
  let abort = new AbortController();
  let pending = pool.mine({ header: template(2), target: 0n }, abort.signal);
  await allHashing(pool, pool.generation);

  const latencies: number[] = [];
  for (let trial = 0; trial < 5; trial++) {
    const t0 = performance.now();
    abort.abort();
    t.equal(await pending, null, 'aborted work resolves null');
    abort = new AbortController();
    pending = pool.mine({ header: template(3 + trial), target: 0n }, abort.signal);
    await allHashing(pool, pool.generation);
    latencies.push(performance.now() - t0);
  }
  latencies.sort((a, b) => a - b);
  t.comment(`median ${latencies[2]!.toFixed(1)} ms until every worker hashes the new template (all: ${latencies.map((l) => l.toFixed(1)).join(', ')})`);
  abort.abort();
  t.equal(await pending, null);
});

t.test('a new mine call supersedes the previous one', async (t) => {
  const pool = new MiningPool({ workers: 2 });
  t.teardown(() => pool.close());
  const first = pool.mine({ header: template(4), target: 0n }, new AbortController().signal);
  const second = pool.mine({ header: template(5), target: (1n << 240n) - 1n }, new AbortController().signal);
  t.equal(await first, null, 'the superseded call resolves null');
  const solution = await second;
  t.ok(solution && hashMeetsTarget(sha256d(solution.header), (1n << 240n) - 1n), 'the new one is solved');
});

t.test('the header time rolls forward when the nonce space of a header is used up', async (t) => {
  const nonceSpace = 256;
  // Pick a template whose first time has no solution among its 256 nonces but a later one has.
  let header: Uint8Array | undefined;
  let target = 0n;
  for (let seed = 10; !header; seed++) {
    const h = template(seed);
    const best = (time: number): bigint => {
      const x = h.slice();
      new DataView(x.buffer).setUint32(TIME_OFFSET, time, true);
      let min = 1n << 256n;
      for (let n = 0; n < nonceSpace; n++) {
        new DataView(x.buffer).setUint32(NONCE_OFFSET, n, true);
        const v = hashToBigInt(sha256d(x));
        if (v < min) min = v;
      }
      return min;
    };
    const first = best(timeOf(h));
    const later = [1, 2, 3].map((k) => best(timeOf(h) + k)).reduce((a, b) => (b < a ? b : a));
    if (later < first) {
      header = h;
      target = later;
    }
  }
  t.equal(scanNonces(header, target, 0, nonceSpace).nonce, undefined, 'no solution at the template time');

  const pool = new MiningPool({ workers: 2, nonceSpace });
  t.teardown(() => pool.close());
  const solution = await pool.mine({ header, target }, new AbortController().signal);
  t.ok(solution, 'a solution');
  const time = timeOf(solution!.header);
  // A later time may hold a solution too, and on a busy machine one worker can run ahead of the other: the time
  // rolls once per nonce space handed out, so it is bounded by the nonce spaces hashed plus the two in flight.
  const rolls = Math.ceil(solution!.hashes / nonceSpace) + 2;
  t.ok(time > timeOf(header) && time <= timeOf(header) + rolls, `time rolled from ${timeOf(header)} to ${time} (at most ${rolls} rolls)`);
  const nonce = new DataView(solution!.header.buffer).getUint32(NONCE_OFFSET, true);
  t.ok(nonce < nonceSpace, `nonce ${nonce} within the nonce space`);
  t.equal(fixedPart(solution!.header), fixedPart(header));
  t.ok(hashMeetsTarget(sha256d(solution!.header), target), 'its hash meets the target');
  t.ok(solution!.hashes > nonceSpace, `${solution!.hashes} hashes tried`);
});

t.test('a pre-aborted signal, close and invalid options', async (t) => {
  const pool = new MiningPool({ workers: 1 });
  const aborted = AbortSignal.abort();
  t.equal(await pool.mine({ header: template(6), target: 0n }, aborted), null, 'an aborted signal resolves null');
  const pending = pool.mine({ header: template(7), target: 0n }, new AbortController().signal);
  await pool.close();
  t.equal(await pending, null, 'close resolves the pending call with null');
  await t.rejects(pool.mine({ header: template(8), target: 0n }, new AbortController().signal), MiningPoolClosedError);
  t.throws(() => new MiningPool({ workers: 0 }), MiningPoolOptionError);
  t.throws(() => new MiningPool({ chunkMs: 1.5 }), { message: 'options.chunkMs must be a positive integer ≤ 10000' });
  t.throws(() => new MiningPool({ nonceSpace: 2 ** 33 }), MiningPoolOptionError);
});
