import t from 'tap';
import { connect } from 'nats';
import { toHex } from '../../src/core/encoding.js';
import { genesisBlock, networkParams } from '../../src/core/genesis.js';
import { encodeHeader } from '../../src/core/header.js';
import { decodeCompact } from '../../src/core/pow.js';
import { MiningPool } from '../../src/mining/pool.js';
import { checkFarmSolution, NatsFarmMiner, sliceHeader } from '../../src/nats/farm.js';
import { runRemoteMiner } from '../../src/nats/remote-miner.js';
import { farmSubjects } from '../../src/nats/subjects.js';
import { NatsServer } from '../helpers/nats-server.js';
import { collect, memoryLogger, solve, withTimeout, WAIT_MS } from './fixtures.js';

/*
 * The farm protocol between a NatsFarmMiner (peer side) and remote miners
 * running real piscina pools, in this process, over a real nats-server. The
 * end-to-end run with a `cheesechain miner` process and a peer is in
 * farm-e2e.test.ts.
 */

const params = networkParams('regtest');
const genesis = genesisBlock(params);
const template = encodeHeader({ ...genesis.header, prevHash: new Uint8Array(32).fill(1), nonce: 0 });
const easy = decodeCompact(params.genesisBits).target;

t.test('checkFarmSolution accepts a solved header of the template and refuses anything else', async (t) => {
  const { header } = solve({ header: sliceHeader(template, 3), target: easy });
  t.same(checkFarmSolution(template, easy, header), { ok: true });
  const other = Uint8Array.from(header);
  other[40] = other[40]! ^ 1; // merkle root
  t.match(checkFarmSolution(template, easy, other), { ok: false, reason: /not of this template/ });
  const bits = Uint8Array.from(header);
  bits[73] = bits[73]! ^ 1;
  t.match(checkFarmSolution(template, easy, bits), { ok: false, reason: /bits/ });
  const early = sliceHeader(template, 0);
  new DataView(early.buffer).setUint32(68, genesis.header.time - 1, true);
  t.match(checkFarmSolution(template, easy, early), { ok: false, reason: /earlier/ });
  t.match(checkFarmSolution(template, 0n, header), { ok: false, reason: /does not meet the target/ });
  t.match(checkFarmSolution(template, easy, header.subarray(0, 79)), { ok: false, reason: /80 bytes/ });
  t.equal(new DataView(sliceHeader(template, 5).buffer).getUint32(68, true), genesis.header.time + 5, 'slice k adds k seconds');
});

t.test('farm jobs, cancels and slices over a real nats-server', async (t) => {
  const server = await NatsServer.start();
  t.teardown(() => server.stop());
  const log = memoryLogger();
  const farm = new NatsFarmMiner({ url: server.url, network: 'regtest', farmId: 'peer-f', logger: log.logger, reportStaleMs: 2_000 });
  t.teardown(() => farm.close());
  const observer = await connect({ servers: server.url });
  t.teardown(() => observer.close());
  const subjects = farmSubjects('regtest');
  const jobs = collect(observer, subjects.work);
  const cancels = collect(observer, subjects.cancel);
  const reports = collect(observer, subjects.report);
  await observer.flush();

  const pools = [new MiningPool({ workers: 1, chunkMs: 20 }), new MiningPool({ workers: 1, chunkMs: 20 })];
  t.teardown(() => Promise.all(pools.map((p) => p.close())));
  const miners = await Promise.all(pools.map((miner, i) => runRemoteMiner({ url: server.url, network: 'regtest', minerId: `m${i}`, logger: log.logger, miner, reportIntervalMs: 200 })));
  t.teardown(() => Promise.all(miners.map((m) => m.stop())));
  await withTimeout(
    (async () => {
      while (farm.activeMiners < 2) await new Promise((r) => setTimeout(r, 50));
    })(),
    WAIT_MS,
    'two miners reporting',
  );

  await t.test('a solvable job resolves with a header that meets the target', async (t) => {
    const solution = await withTimeout(farm.mine({ header: template, target: easy }, new AbortController().signal), WAIT_MS, 'a solution');
    t.ok(solution);
    t.same(checkFarmSolution(template, easy, solution!.header), { ok: true });
    const cancel = await cancels.next(() => true, 'the cancel after a solution');
    t.match(cancel.json, { type: 'farm/cancel', jobId: /^peer-f-[0-9a-f]{8}-1$/ });
    t.equal(farm.solutions, 1);
  });

  await t.test('an unsolvable job is split into one slice per miner; aborting cancels it everywhere', async (t) => {
    const abort = new AbortController();
    const result = farm.mine({ header: template, target: 0n }, abort.signal);
    const slice0 = await jobs.next((r) => r.json.jobId.endsWith('-2') && r.json.slice === 0, 'slice 0');
    const slice1 = await jobs.next((r) => r.json.jobId.endsWith('-2') && r.json.slice === 1, 'slice 1');
    t.equal(slice0.json.target, '0'.repeat(64));
    t.not(slice0.json.header, slice1.json.header, 'slices differ (time)');
    await reports.next((r) => r.json.minerId === 'm0' && r.json.jobId === slice0.json.jobId, 'm0 on the job');
    await reports.next((r) => r.json.minerId === 'm1' && r.json.jobId === slice0.json.jobId, 'm1 on the job');
    const working = await Promise.all(miners.map((m) => m.stats()));
    t.same(new Set(working.map((s) => s.slice)), new Set([0, 1]), 'each miner searches its own slice');
    await withTimeout(
      (async () => {
        while (farm.hashRate() === 0) await new Promise((r) => setTimeout(r, 50));
      })(),
      WAIT_MS,
      'a reported hash rate',
    );
    t.ok(farm.hashRate() > 0, `farm hash rate ${farm.hashRate()} H/s`);
    abort.abort();
    t.equal(await result, null, 'mine resolves null when aborted');
    await cancels.next((r) => r.json.jobId === slice0.json.jobId, 'cancel of the aborted job');
    await withTimeout(
      (async () => {
        for (;;) {
          const s = await Promise.all(miners.map((m) => m.stats()));
          if (s.every((x) => x.jobId === null)) return;
          await new Promise((r) => setTimeout(r, 20));
        }
      })(),
      WAIT_MS,
      'miners idle after the cancel',
    );
    t.pass('both miners stopped the cancelled job');
  });

  await t.test('a new job replaces the previous one on the miners', async (t) => {
    const first = new AbortController();
    void farm.mine({ header: template, target: 0n }, first.signal);
    await reports.next((r) => r.json.jobId?.endsWith('-3'), 'a miner on job 3');
    const second = new AbortController();
    const header4 = Uint8Array.from(template);
    header4[4] = 9; // another prevHash
    const found = farm.mine({ header: header4, target: easy }, second.signal);
    const solution = await withTimeout(found, WAIT_MS, 'job 4 solved');
    t.ok(solution);
    t.equal(solution!.header[4], 9, 'the solution is of the newer job');
    t.ok(cancels.all.some((r) => r.json.jobId.endsWith('-3')), 'the replaced job was cancelled');
  });

  await t.test('a malformed or forged solution is refused and logged', async (t) => {
    const abort = new AbortController();
    const result = farm.mine({ header: template, target: 0n }, abort.signal);
    const job = await jobs.next((r) => r.json.jobId.endsWith('-5'), 'job 5');
    const forged = solve({ header: sliceHeader(template, 0), target: easy }).header;
    observer.publish(job.json.solutionSubject, new TextEncoder().encode(JSON.stringify({ type: 'farm/solution', v: 1, jobId: job.json.jobId, slice: 0, minerId: 'evil', header: toHex(forged), hashes: 1 })));
    observer.publish(job.json.solutionSubject, new TextEncoder().encode('{"not":"a solution"}'));
    await log.waitFor('farm solution refused');
    await log.waitFor('malformed farm solution dropped');
    abort.abort();
    t.equal(await result, null);
  });
});
