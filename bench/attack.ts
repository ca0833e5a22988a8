/**
 * Memory under attack: a real `cheesechain node` process (regtest, loopback)
 * is flooded by this process, one attack after another, and its resident
 * memory (VmRSS of /proc/<pid>/status, sampled every 20 ms) is printed before,
 * at the peak and one second after each flood, with the growth in MB against
 * the +50 MB budget. Also the cost of refusing a 4 MB hostile frame against
 * parsing a valid 4 MB frame of the same size, measured in this run.
 *
 *   npm run bench:attack
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { networkId } from '../src/core/genesis.js';
import { hashToHex } from '../src/core/hash.js';
import { NETWORKS } from '../src/core/params.js';
import { decodeMessage } from '../src/transport/messages.js';
import { fmt, table } from './lib/stats.js';

const NET = hashToHex(networkId(NETWORKS.regtest));
const BUDGET_MB = 50;

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

const hello = (nodeId: string, method = 'HELLO') =>
  JSON.stringify({ [method]: { version: 1, network: NET, height: 0, tip: NET, chainWork: '1', time: Math.floor(Date.now() / 1000), nodeId, port: 0 } }) + '\x04';

/** A raw peer that completes the handshake unauthenticated; resolves with its socket. */
async function rawPeer(port: number, nodeId: string): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port });
  s.on('error', () => undefined);
  await once(s, 'connect');
  let got = '';
  const until = async (re: RegExp) => {
    while (!re.test(got)) got += (await once(s, 'data'))[0].toString();
  };
  s.write(`${nodeId}:0`);
  await until(/./);
  s.write(hello(nodeId));
  await until(/"HELLO"/);
  s.write(hello(nodeId, 'HEY'));
  s.on('data', () => undefined);
  return s;
}

async function writeAll(s: Socket, frames: string[]): Promise<void> {
  for (const f of frames) if (!s.write(f)) await Promise.race([once(s, 'drain'), once(s, 'close')]);
}

interface Row {
  attack: string;
  did: string;
  before: number;
  peak: number;
  after: number;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cheesechain-attack-'));
  const config = join(dir, 'node.json');
  writeFileSync(config, JSON.stringify({ network: 'regtest', dataDir: join(dir, 'data'), listen: { host: '127.0.0.1', port: 0 }, api: { enabled: false }, mining: { enabled: false }, log: { level: 'info' } }));
  const node = spawn(process.execPath, ['dist/src/cli/main.js', 'node', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  node.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  while (!/"msg":"node started"/.test(log)) await once(node.stderr!, 'data');
  const port = Number(/"listenPort":(\d+)/.exec(log)![1]);
  const pid = node.pid!;
  const rows: Row[] = [];

  const measure = async (attack: string, did: string, run: () => Promise<void>): Promise<void> => {
    if (typeof global.gc === 'function') global.gc();
    const before = rssMb(pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 20);
    await run();
    await new Promise((r) => setTimeout(r, 1_000));
    clearInterval(sampler);
    peak = Math.max(peak, rssMb(pid));
    rows.push({ attack, did, before, peak, after: rssMb(pid) });
  };

  try {
    await measure('junk flood: 100 unknown-method frames of 1 MB', 'REJECT unknown-message each, 1 point each', async () => {
      const s = await rawPeer(port, 'junk');
      const junk = `{"JUNK":"${'x'.repeat(1_000_000)}"}\x04`;
      await writeAll(s, Array.from({ length: 100 }, () => junk));
      s.destroy();
    });
    await measure('BROADCASTBLOCK flood: 150 × 500 random hashes', 'asks for a list instead; wanted table capped', async () => {
      const s = await rawPeer(port, 'announcer');
      const frames = Array.from({ length: 150 }, () => JSON.stringify({ BROADCASTBLOCK: { hashes: Array.from({ length: 500 }, () => randomBytes(32).toString('hex')) } }) + '\x04');
      await writeAll(s, frames);
      s.destroy();
    });
    await measure('LISTOFBLOCKS flood: 150 unsolicited lists of 2,000', 'ignored (not asked for)', async () => {
      const s = await rawPeer(port, 'lister');
      const frames = Array.from({ length: 150 }, () => JSON.stringify({ LISTOFBLOCKS: { hashes: Array.from({ length: 2_000 }, () => randomBytes(32).toString('hex')) } }) + '\x04');
      await writeAll(s, frames);
      s.destroy();
    });
    await measure('ADDR flood: 200 × 1,000 addresses', 'token bucket takes 1,000, the rest dropped', async () => {
      const s = await rawPeer(port, 'addr');
      const frames = Array.from({ length: 200 }, (_, k) => JSON.stringify({ ADDR: { addresses: Array.from({ length: 1_000 }, (_, i) => ({ host: `10.${k}.${i >> 8}.${i & 255}`, port: 8330 })) } }) + '\x04');
      await writeAll(s, frames);
      s.destroy();
    });
    await measure('GETADDR burst: 2,000', 'answered once', async () => {
      const s = await rawPeer(port, 'getaddr');
      await writeAll(s, Array.from({ length: 2_000 }, () => '{"GETADDR":{}}\x04'));
      s.destroy();
    });
    await measure('deep nesting: 20 frames of 4 MB', 'refused by a linear scan', async () => {
      const s = await rawPeer(port, 'nester');
      const depth = 1_990_000;
      const f = '{"ADDR":' + '['.repeat(depth) + ']'.repeat(depth) + '}\x04';
      await writeAll(s, Array.from({ length: 20 }, () => f));
      s.destroy();
    });
    await measure('connection flood: 500 sockets holding 16 KB partial frames', 'counted; handshakes evicted or timed out', async () => {
      const sockets = await Promise.all(
        Array.from({ length: 500 }, async (_, i) => {
          const s = connect({ host: '127.0.0.1', port });
          s.on('error', () => undefined);
          await once(s, 'connect').catch(() => undefined);
          s.write(`flood${i}:0`);
          s.write('{"HELLO":"' + 'y'.repeat(16_000));
          return s;
        }),
      );
      await new Promise((r) => setTimeout(r, 500));
      for (const s of sockets) s.destroy();
    });
  } finally {
    node.kill('SIGTERM');
    await once(node, 'exit');
    rmSync(dir, { recursive: true, force: true });
  }

  console.log('\nMemory of the attacked peer (RSS, MB; budget +50 MB over the start of each flood)\n');
  console.log(
    table(
      ['attack', 'what the peer did', 'before', 'peak', 'after', 'peak − before', 'within budget'],
      rows.map((r) => [r.attack, r.did, fmt(r.before, 1), fmt(r.peak, 1), fmt(r.after, 1), fmt(r.peak - r.before, 1), r.peak - r.before <= BUDGET_MB ? 'yes' : 'NO']),
      2,
    ),
  );

  // The cost of refusing a hostile frame against parsing an honest one of the same size, in this run.
  const depth = 1_990_000;
  const hostile = '{"ADDR":' + '['.repeat(depth) + ']'.repeat(depth) + '}';
  const honest = JSON.stringify({ REJECT: { message: '', code: 'x', reason: 'r', pad: 'z'.repeat(hostile.length - 60) } });
  const time = (f: () => void, n = 10): number => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) f();
    return (performance.now() - t0) / n;
  };
  const hostileMs = time(() => decodeMessage(hostile));
  const parseMs = time(() => JSON.parse(honest));
  console.log(`\n4 MB frame: refusing the nested one ${fmt(hostileMs, 1)} ms; JSON.parse of a flat one of the same size ${fmt(parseMs, 1)} ms (×${fmt(hostileMs / parseMs, 2)})`);
}

await main();
