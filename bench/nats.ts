/**
 * NATS benchmarks: `node dist/bench/nats.js [--json] [--seconds N] [--workers N]`.
 * Starts its own `nats-server` on a free port (Debian package `nats-server`).
 *
 * 1. Cost of publishing: block connect throughput of a real regtest peer
 *    (LMDB in a temporary folder, its actors, the miner actor driven by an
 *    in-process miner that solves each template at once, so that connecting
 *    blocks is the bottleneck) without NATS and with the bridge publishing
 *    every event; blocks per second and their ratio. With NATS, a subscriber
 *    counts the `block.connected` events it receives, to show that delivery
 *    keeps up.
 * 2. Remote farm against local: the same piscina pool (same worker count),
 *    once as the local miner and once behind NATS in a `cheesechain miner`
 *    child process fed by a {@link NatsFarmMiner}: steady hash rate on an
 *    unsolvable job, and solved jobs per second at a target that takes about
 *    {@link JOB_MS} ms of local hashing (per-job overhead of the NATS round
 *    trip).
 */
import { spawn } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect } from 'nats';
import { pino } from 'pino';
import { genesisBlock, networkParams } from '../src/core/genesis.js';
import { encodeHeader } from '../src/core/header.js';
import { MiningPool } from '../src/mining/pool.js';
import type { Miner, MiningSolution, MiningWork } from '../src/mining/types.js';
import { NatsFarmMiner } from '../src/nats/farm.js';
import { startNode } from '../src/node/node.js';
import { NatsServer, trackChild } from '../test/helpers/nats-server.js';
import { regtestConfig, solve, tempDir } from '../test/nats/fixtures.js';
import { natsNodeDeps } from '../src/nats/node-wiring.js';

/** Target duration of one job in the solved-jobs measurement, ms of local hashing. */
const JOB_MS = 50;
/** Alternating rounds of the block connect measurement (without, then with NATS); the medians are compared. */
const CONNECT_ROUNDS = 3;
/** Alternating rounds of the farm measurements (local, then remote); the medians are compared. */
const FARM_ROUNDS = 3;
/** Default seconds per measured case. */
const DEFAULT_SECONDS = 3;
const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

/** Solves every template at once (regtest: a few hashes): connecting blocks is all that is left. */
class InstantMiner implements Miner {
  async mine(work: MiningWork, signal: AbortSignal): Promise<MiningSolution | null> {
    await new Promise((r) => setImmediate(r));
    return signal.aborted ? null : solve(work);
  }
  hashRate(): number {
    return 0;
  }
  async close(): Promise<void> {}
}

interface ConnectRun {
  blocks: number;
  perSecond: number;
  /** CPU time of this process per block (user + system), µs. */
  cpuPerBlockUs: number;
  received?: number;
}

async function blocksPerSecond(natsUrl: string | undefined, seconds: number): Promise<ConnectRun> {
  const dir = tempDir('bench-nats');
  const nc = natsUrl ? await connect({ servers: natsUrl }) : undefined;
  let received = 0;
  nc?.subscribe('cheesechain.regtest.bench.evt.block.connected', { callback: () => received++ });
  await nc?.flush();
  const node = await startNode(regtestConfig(dir.path, 'bench', natsUrl, { log: { level: 'silent' } }), { logger: pino({ level: 'silent' }), miner: new InstantMiner(), ...natsNodeDeps });
  const startHeight = (await node.api.info()).height;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, seconds * 1_000));
  const blocks = (await node.api.info()).height - startHeight;
  const cpu = process.cpuUsage(cpu0);
  const elapsed = (performance.now() - t0) / 1_000;
  await node.stop();
  if (nc) {
    await nc.flush();
    await nc.close();
  }
  dir.cleanup();
  return { blocks, perSecond: blocks / elapsed, cpuPerBlockUs: (cpu.user + cpu.system) / Math.max(1, blocks), ...(nc ? { received } : {}) };
}

async function sample(miner: Miner, seconds: number): Promise<number> {
  const abort = new AbortController();
  const genesis = genesisBlock(networkParams('regtest'));
  const running = miner.mine({ header: encodeHeader(genesis.header), target: 0n }, abort.signal);
  await new Promise((r) => setTimeout(r, 1_000)); // warm-up: workers started, first reports in
  const rates: number[] = [];
  const until = performance.now() + seconds * 1_000;
  while (performance.now() < until) {
    await new Promise((r) => setTimeout(r, 500));
    rates.push(miner.hashRate());
  }
  abort.abort();
  await running;
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)]!;
}

async function jobsPerSecond(miner: Miner, target: bigint, seconds: number): Promise<number> {
  const genesis = genesisBlock(networkParams('regtest'));
  let n = 0;
  const t0 = performance.now();
  const until = t0 + seconds * 1_000;
  while (performance.now() < until) {
    const header = encodeHeader({ ...genesis.header, time: genesis.header.time + n });
    const s = await miner.mine({ header, target }, new AbortController().signal);
    if (s) n++;
  }
  return n / ((performance.now() - t0) / 1_000);
}

function middle(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { json: { type: 'boolean' }, seconds: { type: 'string' }, workers: { type: 'string' } } });
  const seconds = values.seconds ? Number(values.seconds) : DEFAULT_SECONDS;
  const workers = values.workers ? Number(values.workers) : availableParallelism();
  const log = (s: string) => {
    if (!values.json) process.stdout.write(s + '\n');
  };
  const server = await NatsServer.start();
  try {
    log(`nats-server on ${server.url}; ${availableParallelism()} cores, load ${loadavg()[0]!.toFixed(2)}; ${seconds} s per case`);

    // 1. Publishing cost.
    // Warm-up runs of both kinds (JIT, LMDB), then alternating runs (the machine is shared: alternation spreads load changes over both); medians.
    await blocksPerSecond(undefined, seconds);
    await blocksPerSecond(server.url, seconds);
    const runsWithout: ConnectRun[] = [];
    const runsWith: ConnectRun[] = [];
    for (let i = 0; i < CONNECT_ROUNDS; i++) {
      runsWithout.push(await blocksPerSecond(undefined, seconds));
      runsWith.push(await blocksPerSecond(server.url, seconds));
    }
    const median = <T extends { perSecond: number }>(xs: T[]): T => [...xs].sort((a, b) => a.perSecond - b.perSecond)[Math.floor(xs.length / 2)]!;
    const without = median(runsWithout);
    const withNats = median(runsWith);
    const ratio = withNats.perSecond / without.perSecond;
    log(`runs without: ${runsWithout.map((r) => r.perSecond.toFixed(0)).join(', ')} blocks/s; with: ${runsWith.map((r) => r.perSecond.toFixed(0)).join(', ')} blocks/s`);
    const cpuWithout = middle(runsWithout.map((r) => r.cpuPerBlockUs));
    const cpuWith = middle(runsWith.map((r) => r.cpuPerBlockUs));
    log(`CPU per block in the peer's process: ${cpuWithout.toFixed(0)} µs without, ${cpuWith.toFixed(0)} µs with the bridge (+${(cpuWith - cpuWithout).toFixed(0)} µs, ratio ${(cpuWithout / cpuWith).toFixed(3)})`);
    log(`block connect, no NATS:        ${without.perSecond.toFixed(1)} blocks/s (${without.blocks} blocks)`);
    log(`block connect, bridge on:      ${withNats.perSecond.toFixed(1)} blocks/s (${withNats.blocks} blocks, ${withNats.received} block.connected events received)`);
    log(`ratio with/without:            ${ratio.toFixed(3)}`);

    // 2. Remote farm against the same pool locally: alternating rounds, medians.
    const pool = new MiningPool({ workers });
    const child = spawn(process.execPath, [MAIN, 'miner', '--nats', server.url, '--network', 'regtest', '--workers', String(workers), '--id', 'bench', '--log-level', 'warn'], { stdio: 'ignore' });
    trackChild(child); // killed with this process however it ends (a signal, an EPIPE on stdout)
    const exited = new Promise((r) => child.on('exit', r));
    const farm = new NatsFarmMiner({ url: server.url, network: 'regtest', farmId: 'bench', logger: pino({ level: 'silent' }) });
    try {
      while (farm.activeMiners < 1) await new Promise((r) => setTimeout(r, 50));
      const localRates: number[] = [];
      const remoteRates: number[] = [];
      for (let i = 0; i < FARM_ROUNDS; i++) {
        localRates.push(await sample(pool, seconds));
        remoteRates.push(await sample(farm, seconds));
      }
      const localRate = middle(localRates);
      const remoteRate = middle(remoteRates);
      const target = (1n << 256n) / BigInt(Math.max(1, Math.round((localRate * JOB_MS) / 1_000)));
      const localJobsRuns: number[] = [];
      const remoteJobsRuns: number[] = [];
      for (let i = 0; i < FARM_ROUNDS; i++) {
        localJobsRuns.push(await jobsPerSecond(pool, target, seconds));
        remoteJobsRuns.push(await jobsPerSecond(farm, target, seconds));
      }
      const localJobs = middle(localJobsRuns);
      const remoteJobs = middle(remoteJobsRuns);
      const fmt = (xs: number[], d = 1e6) => xs.map((x) => (x / d).toFixed(2)).join(', ');
      log(`hash rate rounds, local: ${fmt(localRates)} MH/s; remote: ${fmt(remoteRates)} MH/s`);
      log(`hash rate, local pool (${workers} workers): ${(localRate / 1e6).toFixed(3)} MH/s`);
      log(`hash rate, remote farm (same pool):   ${(remoteRate / 1e6).toFixed(3)} MH/s (ratio ${(remoteRate / localRate).toFixed(3)})`);
      log(`job rounds, local: ${fmt(localJobsRuns, 1)} /s; remote: ${fmt(remoteJobsRuns, 1)} /s`);
      log(`jobs of ~${JOB_MS} ms, local:   ${localJobs.toFixed(2)} solved/s`);
      log(`jobs of ~${JOB_MS} ms, remote:  ${remoteJobs.toFixed(2)} solved/s (ratio ${(remoteJobs / localJobs).toFixed(3)})`);
      if (values.json) {
        process.stdout.write(
          JSON.stringify({
            seconds,
            workers,
            blockConnect: { withoutNats: without.perSecond, withBridge: withNats.perSecond, ratio, cpuPerBlockUsWithout: cpuWithout, cpuPerBlockUsWith: cpuWith, eventsReceived: withNats.received, blocksWithBridge: withNats.blocks },
            farm: { localHashRate: localRate, remoteHashRate: remoteRate, hashRateRatio: remoteRate / localRate, jobMs: JOB_MS, localJobsPerSecond: localJobs, remoteJobsPerSecond: remoteJobs, jobsRatio: remoteJobs / localJobs },
          }) + '\n',
        );
      }
    } finally {
      await farm.close();
      await pool.close();
      child.kill('SIGTERM');
      await exited;
    }
  } finally {
    await server.stop();
  }
}

await main();
process.exit(0);
