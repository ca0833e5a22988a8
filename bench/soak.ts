/**
 * Bounded soak: ten `cheesechain node` processes (regtest), each in a network
 * namespace of its own, all joined by one bridge, run for a bounded time
 * (default 10 minutes) while two of them mine, transfers flow through random
 * peers' HTTP APIs every second, a random peer is killed (SIGKILL) and
 * restarted every {@link RESTART_EVERY_MS}, and a random group of two to four
 * peers is cut off the bridge for {@link PARTITION_MS} every
 * {@link PARTITION_EVERY_MS}. Every {@link SAMPLE_EVERY_MS} it prints each
 * peer's RSS (MB), its LMDB file size (MB) and its tip height; at the end it
 * heals everything, restarts the two miners without mining, waits for the
 * tips to agree (at most {@link CONVERGE_MS}) and prints whether all ten tips
 * are equal, with the growth of RSS and LMDB between the first and the last
 * sample of each peer.
 *
 *   npm run bench:soak [-- --minutes N]      (needs root: ip netns)
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { DEFAULT_MIN_RELAY_FEE } from '../src/core/policy.js';
import { txToJson } from '../src/core/transaction.js';
import { keyHex, newKey, regtest, transfer, type KeyPair } from '../test/helpers/chain-builder.js';
import { fmt, table } from './lib/stats.js';

const PEERS = 10;
const PEER_PORT = 8330;
const API_PORT = 8331;
/** Peers that mine (workers 1 each). */
const MINERS = [0, 5];
const RESTART_EVERY_MS = 45_000;
const PARTITION_EVERY_MS = 70_000;
const PARTITION_MS = 30_000;
const SAMPLE_EVERY_MS = 60_000;
const TX_EVERY_MS = 1_000;
const CONVERGE_MS = 120_000;
/** Prefix of the soak's own link names and namespaces (pid-unique). */
const TAG = `sk${process.pid}`;
const SUBNET = '10.77.0';

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}
function tryIp(...args: string[]): void {
  try {
    ip(...args);
  } catch {
    /* already gone */
  }
}

interface Peer {
  i: number;
  ns: string;
  /** The hub-side end of its link (down = cut off). */
  hubDev: string;
  address: string;
  dataDir: string;
  config: string;
  child?: ChildProcess;
  exited?: Promise<unknown>;
  tip: number;
  restarts: number;
  samples: Array<{ rss: number; lmdb: number }>;
}

function rssMb(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

function lmdbMb(dataDir: string): number {
  try {
    return statSync(join(dataDir, 'chain', 'data.mdb')).size / 1024 / 1024;
  } catch {
    return Number.NaN;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' } } });
  const durationMs = Number(values.minutes) * 60_000;
  const dir = mkdtempSync(join(tmpdir(), 'cheesechain-soak-'));
  const hub = `${TAG}hub`;
  const peers: Peer[] = [];
  const cleanup = (): void => {
    for (const p of peers) p.child?.kill('SIGKILL');
    for (const p of peers) tryIp('netns', 'del', p.ns);
    tryIp('link', 'del', `${TAG}h`);
    tryIp('netns', 'del', hub);
  };
  process.once('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));

  // The bridge lives in a hub namespace; the bench reaches it through one host link (10.77.0.254).
  ip('netns', 'add', hub);
  ip('-n', hub, 'link', 'add', 'br0', 'type', 'bridge');
  ip('-n', hub, 'link', 'set', 'br0', 'up');
  ip('link', 'add', `${TAG}h`, 'type', 'veth', 'peer', 'name', `${TAG}hb`);
  ip('link', 'set', `${TAG}hb`, 'netns', hub);
  ip('-n', hub, 'link', 'set', `${TAG}hb`, 'master', 'br0');
  ip('-n', hub, 'link', 'set', `${TAG}hb`, 'up');
  ip('addr', 'add', `${SUBNET}.254/24`, 'dev', `${TAG}h`);
  ip('link', 'set', `${TAG}h`, 'up');

  const miners = MINERS.map(() => newKey());
  for (let i = 0; i < PEERS; i++) {
    const ns = `${TAG}p${i}`;
    const hubDev = `${TAG}b${i}`;
    ip('netns', 'add', ns);
    ip('link', 'add', `${TAG}v${i}`, 'type', 'veth', 'peer', 'name', hubDev);
    ip('link', 'set', `${TAG}v${i}`, 'netns', ns);
    ip('link', 'set', hubDev, 'netns', hub);
    ip('-n', hub, 'link', 'set', hubDev, 'master', 'br0');
    ip('-n', hub, 'link', 'set', hubDev, 'up');
    const address = `${SUBNET}.${i + 1}`;
    ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', `${TAG}v${i}`);
    ip('-n', ns, 'link', 'set', `${TAG}v${i}`, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    peers.push({ i, ns, hubDev, address, dataDir: join(dir, `p${i}`), config: join(dir, `p${i}.json`), tip: 0, restarts: 0, samples: [] });
  }
  const writeConfig = (p: Peer, mining: boolean): void => {
    // A ring with chords: each peer dials three others.
    const others = [1, 3, 5].map((d) => peers[(p.i + d) % PEERS]!).map((o) => `${o.address}:${PEER_PORT}`);
    const mi = MINERS.indexOf(p.i);
    writeFileSync(
      p.config,
      JSON.stringify({
        network: 'regtest',
        dataDir: p.dataDir,
        nodeId: `soak${p.i}`,
        listen: { host: '0.0.0.0', port: PEER_PORT },
        // The API's Host check admits the address it is bound to: bind the one the soak calls.
        api: { enabled: true, host: p.address, port: API_PORT },
        peers: others,
        connections: { localRanges: [`${SUBNET}.0/24`] },
        mining: mining && mi >= 0 ? { enabled: true, workers: 1, address: keyHex(miners[mi]!) } : { enabled: false },
        log: { level: 'info' },
      }),
    );
  };
  const start = (p: Peer): void => {
    const child = spawn('ip', ['netns', 'exec', p.ns, process.execPath, 'dist/src/cli/main.js', 'node', '--config', p.config], { stdio: ['ignore', 'ignore', 'pipe'] });
    p.child = child;
    p.exited = once(child, 'exit');
    createInterface({ input: child.stderr! }).on('line', (line) => {
      const m = /"msg":"block (?:connected|disconnected)"/.test(line) ? /"height":(\d+)/.exec(line) : null;
      if (m) p.tip = Number(m[1]) - (line.includes('block disconnected') ? 1 : 0);
    });
  };
  const stop = async (p: Peer, signal: NodeJS.Signals): Promise<void> => {
    if (!p.child || p.child.exitCode !== null || p.child.signalCode !== null) return;
    p.child.kill(signal);
    await p.exited;
  };
  for (const p of peers) {
    writeConfig(p, true);
    start(p);
  }

  const api = async <T>(p: Peer, path: string, body?: unknown): Promise<T | undefined> => {
    try {
      const res = await fetch(`http://${p.address}:${API_PORT}${path}`, {
        signal: AbortSignal.timeout(5_000),
        ...(body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      });
      return (await res.json()) as T;
    } catch {
      return undefined;
    }
  };
  const random = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
  const recipients = Array.from({ length: 20 }, () => newKey());
  const stats = { sent: 0, accepted: 0, refused: 0, unreachable: 0, partitions: 0, restarts: 0 };
  const cut = new Set<Peer>();
  const began = Date.now();
  const elapsed = (): string => `${fmt((Date.now() - began) / 60_000, 1)} min`;

  const sample = (): void => {
    for (const p of peers) p.samples.push({ rss: rssMb(p.child?.pid === undefined ? undefined : childPid(p)), lmdb: lmdbMb(p.dataDir) });
    console.log(
      `\n[${elapsed()}] load ${loadavg().map((l) => fmt(l, 1)).join(' ')}; transfers sent ${stats.sent}, accepted ${stats.accepted}, refused ${stats.refused}, unreachable ${stats.unreachable}; restarts ${stats.restarts}, partitions ${stats.partitions}${cut.size > 0 ? ` (cut now: ${[...cut].map((p) => p.i).join(',')})` : ''}`,
    );
    console.log(table(['peer', 'RSS MB', 'LMDB MB', 'tip'], peers.map((p) => [`p${p.i}`, fmt(p.samples.at(-1)!.rss, 1), fmt(p.samples.at(-1)!.lmdb, 1), String(p.tip)]), 2));
  };

  const timers: NodeJS.Timeout[] = [];
  timers.push(
    setInterval(() => {
      const p = random(peers);
      const from: KeyPair = random(miners);
      stats.sent++;
      void (async () => {
        const account = await api<{ pendingNonce: number }>(p, `/accounts/${keyHex(from)}`);
        if (!account) return void stats.unreachable++;
        const tx = transfer(regtest, from, random(recipients), 10n * DEFAULT_MIN_RELAY_FEE, account.pendingNonce, DEFAULT_MIN_RELAY_FEE);
        const reply = await api<{ accepted?: boolean }>(p, '/tx', txToJson(tx));
        if (!reply) stats.unreachable++;
        else if (reply.accepted) stats.accepted++;
        else stats.refused++;
      })();
    }, TX_EVERY_MS),
  );
  timers.push(
    setInterval(() => {
      const p = random(peers);
      stats.restarts++;
      p.restarts++;
      void stop(p, 'SIGKILL').then(() => start(p));
    }, RESTART_EVERY_MS),
  );
  timers.push(
    setInterval(() => {
      if (cut.size > 0) return;
      const group = [...peers].sort(() => Math.random() - 0.5).slice(0, 2 + Math.floor(Math.random() * 3));
      stats.partitions++;
      for (const p of group) {
        cut.add(p);
        ip('-n', hub, 'link', 'set', p.hubDev, 'down');
      }
      setTimeout(() => {
        for (const p of group) {
          tryIp('-n', hub, 'link', 'set', p.hubDev, 'up');
          cut.delete(p);
        }
      }, PARTITION_MS);
    }, PARTITION_EVERY_MS),
  );
  timers.push(setInterval(sample, SAMPLE_EVERY_MS));
  console.log(`soak: ${PEERS} peers, ${durationMs / 60_000} min, miners p${MINERS.join(', p')}, a restart every ${RESTART_EVERY_MS / 1000} s, a partition of ${PARTITION_MS / 1000} s every ${PARTITION_EVERY_MS / 1000} s, a transfer every ${TX_EVERY_MS / 1000} s`);

  await new Promise((r) => setTimeout(r, durationMs));
  for (const tm of timers) clearInterval(tm);

  // The end: heal every link, restart the miners without mining, wait for the tips to agree.
  for (const p of peers) tryIp('-n', hub, 'link', 'set', p.hubDev, 'up');
  cut.clear();
  for (const i of MINERS) {
    const p = peers[i]!;
    await stop(p, 'SIGTERM');
    writeConfig(p, false);
    start(p);
  }
  const tipsOf = async () => Promise.all(peers.map(async (p) => (await api<{ tip: string; height: number }>(p, '/info')) ?? { tip: '?', height: -1 }));
  const deadline = Date.now() + CONVERGE_MS;
  let tips = await tipsOf();
  while (!tips.every((x) => x.tip === tips[0]!.tip && x.tip !== '?') && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1_000));
    tips = await tipsOf();
  }
  sample();
  const equal = tips.every((x) => x.tip === tips[0]!.tip && x.tip !== '?');
  console.log(`\nAll ${PEERS} tips equal at the end: ${equal ? `yes (height ${tips[0]!.height}, ${tips[0]!.tip.slice(0, 16)}…)` : `NO (${tips.map((x) => x.height).join(' ')})`}`);
  console.log(
    table(
      ['peer', 'restarts', 'RSS first → last MB', 'RSS max MB', 'LMDB first → last MB'],
      peers.map((p) => {
        const rss = p.samples.map((s) => s.rss).filter((x) => !Number.isNaN(x));
        const first = p.samples[0]!;
        const last = p.samples.at(-1)!;
        return [`p${p.i}`, String(p.restarts), `${fmt(first.rss, 1)} → ${fmt(last.rss, 1)}`, fmt(Math.max(...rss), 1), `${fmt(first.lmdb, 1)} → ${fmt(last.lmdb, 1)}`];
      }),
      2,
    ),
  );
  for (const p of peers) await stop(p, 'SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}

/** The pid of the node process `ip netns exec` became (it execs, so it is the child's own pid). */
function childPid(p: Peer): number | undefined {
  return p.child?.pid;
}

await main();
