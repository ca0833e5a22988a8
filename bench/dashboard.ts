/**
 * Cost of a connected dashboard (`npm run bench:dashboard`, `node dist/bench/dashboard.js`):
 * block connect throughput of a real regtest peer (LMDB in a temporary
 * folder, its actors, its HTTP API) while a dashboard client in another
 * process reads every event of `GET /events`, against the same peer with no
 * client, in one run. Rounds come in pairs whose order alternates (none then
 * client, client then none, …) so that the machine's drift (other programs'
 * disk writes slow LMDB's commits several-fold for seconds) hits both sides
 * alike; the ratio is of the medians, and the median of the pairs' ratios is
 * printed beside it.
 *
 * Beside the throughput, it prints the CPU time of the peer's process (user +
 * system, all its threads; the client's process is not counted) per block of
 * each kind of round: the dashboard's own cost, less blurred by the other
 * programs of a busy machine than the throughput is.
 *
 * Blocks carry only their coinbase, the worst case for this ratio: the
 * event-stream work per block is fixed, so larger blocks dilute it. Each block
 * goes through `NodeApi.submitBlock` (JSON decode, chain actor, one LMDB write
 * transaction, events), like a block from a peer. Built and mined before any
 * timing starts.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { startHttpApi } from '../src/api/http.js';
import { blockToJson, computeMerkleRoot, type Block } from '../src/core/block.js';
import { generateKeyPair } from '../src/core/ed25519.js';
import { genesisBlock, networkId } from '../src/core/genesis.js';
import { hashFromHex, hashToHex } from '../src/core/hash.js';
import { headerHashHex, type BlockHeader } from '../src/core/header.js';
import { BLOCK_VERSION, NETWORKS, blockReward } from '../src/core/params.js';
import { checkProofOfWork } from '../src/core/validation.js';
import { nodeConfigSchema } from '../src/config/schema.js';
import { startNode } from '../src/node/node.js';

/** Blocks connected per round. */
const BLOCKS_PER_ROUND = Number(process.env.BENCH_BLOCKS ?? 200);
/** Rounds of each kind (without a client, with one). */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const params = NETWORKS.regtest;

function buildChain(n: number): Block[] {
  const miner = generateKeyPair().publicKey;
  const out: Block[] = [];
  let prev = genesisBlock(params);
  let prevHash = hashToHex(networkId(params));
  for (let height = 1; height <= n; height++) {
    const txs = [{ type: 'coinbase' as const, recipient: miner, amount: blockReward(params, height), height }];
    const header: BlockHeader = { version: BLOCK_VERSION, prevHash: hashFromHex(prevHash), merkleRoot: computeMerkleRoot(txs), time: prev.header.time + 1, bits: params.genesisBits, nonce: 0 };
    while (!checkProofOfWork(header, params).ok) header.nonce++;
    prev = { header, txs };
    prevHash = headerHashHex(header);
    out.push(prev);
  }
  return out;
}

/** Longest wait for the dashboard process to start, open its stream, read a round's events or close, ms. */
const CLIENT_WAIT_MS = 60_000;

/** The dashboard process, told by lines on its stdin when to open and close its stream. */
interface DashboardProcess {
  /** Opens `GET /events`; resolves when the stream is open, with `read`: the count once `expected` block events are read. */
  open(expected: number): Promise<{ read: Promise<number> }>;
  /** Closes the stream (the peer sees the connection end); resolves when it is closed. */
  close(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A dashboard in its own process, started once before the first round and
 * kept until the end, so that its start-up (a Node.js process loading its
 * modules) falls in no round: a real dashboard is open long before the blocks
 * it watches. On `open <n>` it opens the stream, says `open`, and says
 * `read <n>` once it has read n block events; on `close` it closes the
 * stream and says `closed`.
 */
async function startClient(url: string): Promise<DashboardProcess> {
  const code = `
    const { createInterface } = require('node:readline');
    let abort, blocks = 0, expected = 0, tail = '';
    createInterface({ input: process.stdin }).on('line', (line) => {
      const [cmd, n] = line.split(' ');
      if (cmd === 'open') {
        abort = new AbortController();
        blocks = 0; expected = Number(n); tail = '';
        fetch(${JSON.stringify(url)}, { signal: abort.signal }).then(async (res) => {
          process.stdout.write('open\\n');
          for await (const chunk of res.body) {
            const text = tail + Buffer.from(chunk).toString();
            const parts = text.split('event: block-connected\\n');
            blocks += parts.length - 1;
            tail = parts[parts.length - 1].slice(-40);
            if (blocks === expected) process.stdout.write('read ' + blocks + '\\n');
          }
        }).catch((err) => {
          if (err.name !== 'AbortError') { console.error(err); process.exit(1); }
        });
      } else if (cmd === 'close') {
        abort.abort();
        process.stdout.write('closed\\n');
      }
    });
    process.stdout.write('ready\\n');`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout! });
  const line = (prefix: string, what: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`benchmark: the dashboard process did not ${what} within ${CLIENT_WAIT_MS} ms`)), CLIENT_WAIT_MS);
      const onLine = (l: string) => {
        if (!l.startsWith(prefix)) return;
        clearTimeout(timer);
        lines.off('line', onLine);
        resolve(l);
      };
      lines.on('line', onLine);
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`benchmark: the dashboard process exited before it could ${what}`));
      });
    });
  const send = (text: string): void => void child.stdin!.write(`${text}\n`);
  await line('ready', 'start');
  return {
    open: async (expected) => {
      const read = line('read ', `read ${expected} block events`).then((l) => Number(l.slice(5)));
      read.catch(() => undefined);
      const opened = line('open', 'open the stream');
      send(`open ${expected}`);
      await opened;
      return { read };
    },
    close: async () => {
      const closed = line('closed', 'close the stream');
      send('close');
      await closed;
    },
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cheesechain-bench-dashboard-'));
  const total = BLOCKS_PER_ROUND * ROUNDS * 2;
  const t0 = performance.now();
  const chain = buildChain(total).map((b) => blockToJson(b));
  console.log(`built ${total} coinbase-only regtest blocks in ${((performance.now() - t0) / 1000).toFixed(1)} s; load average ${loadavg()[0]!.toFixed(1)}`);
  const logger = pino({ level: 'silent' });
  const config = nodeConfigSchema.parse({ network: 'regtest', dataDir: dir, listen: { host: '127.0.0.1', port: 0 }, mining: { enabled: false, workers: 1 }, log: { level: 'silent' } });
  const node = await startNode(config, { logger });
  const http = await startHttpApi(node.api, { port: 0, logger, events: node.bus });
  const rates: Record<'none' | 'client', number[]> = { none: [], client: [] };
  /** CPU time of this process per block, µs. */
  const cpu: Record<'none' | 'client', number[]> = { none: [], client: [] };
  let next = 0;
  let seen = 0;
  const dashboard = await startClient(`${http.url}/events`);
  try {
    for (let round = 0; round < ROUNDS * 2; round++) {
      // Pairs: (none, client), (client, none), (none, client), …
      const kind = (round % 2 === 0) === (Math.floor(round / 2) % 2 === 0) ? 'none' : 'client';
      const stream = kind === 'client' ? await dashboard.open(BLOCKS_PER_ROUND) : undefined;
      const start = performance.now();
      const cpuStart = process.cpuUsage();
      for (let i = 0; i < BLOCKS_PER_ROUND; i++) {
        const r = await node.api.submitBlock(chain[next++]);
        if (r.status !== 'connected') throw new Error(`benchmark: block ${next} was ${r.status}`);
      }
      const rate = BLOCKS_PER_ROUND / ((performance.now() - start) / 1000);
      rates[kind].push(rate);
      if (stream) {
        // The client must have read every block's event (it says so when it has), or the round does not count.
        seen += await stream.read;
        await dashboard.close();
      }
      // Counted after the client has read everything, so events still queued when the last block connected are paid for.
      const used = process.cpuUsage(cpuStart);
      const cpuPerBlock = (used.user + used.system) / BLOCKS_PER_ROUND;
      cpu[kind].push(cpuPerBlock);
      console.log(`round ${round + 1}: ${kind === 'none' ? 'no dashboard     ' : 'dashboard reading'} ${rate.toFixed(0)} blocks/s, ${cpuPerBlock.toFixed(0)} µs CPU per block; load average ${loadavg()[0]!.toFixed(1)}`);
    }
  } finally {
    await dashboard.stop();
    await http.close();
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const none = median(rates.none);
  const client = median(rates.client);
  console.log('');
  console.log(`block connect, median of ${ROUNDS} rounds of ${BLOCKS_PER_ROUND} blocks:`);
  console.log(`  no dashboard:                     ${none.toFixed(0)} blocks/s`);
  console.log(`  a dashboard reading every event:  ${client.toFixed(0)} blocks/s (it read ${seen} block events)`);
  console.log(`  ratio with / without:             ${(client / none).toFixed(3)} (target ≥ 0.90)`);
  const pairs = rates.none.map((n, i) => rates.client[i]! / n);
  console.log(`  median of the ${pairs.length} pairs' ratios:     ${median(pairs).toFixed(3)} (each: ${pairs.map((r) => r.toFixed(2)).join(' ')})`);
  const cpuNone = median(cpu.none);
  const cpuClient = median(cpu.client);
  console.log(`CPU time of the peer's process per block (median):`);
  console.log(`  no dashboard ${cpuNone.toFixed(0)} µs, a dashboard reading ${cpuClient.toFixed(0)} µs: ${((cpuClient / cpuNone - 1) * 100).toFixed(1)} % more`);
  console.log(`load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
}

await main();
