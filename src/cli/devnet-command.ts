import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import logUpdate from 'log-update';
import { fromHex, toHex } from '../core/encoding.js';
import { generateKeyPair } from '../core/ed25519.js';
import { hashFromHex } from '../core/hash.js';
import { COIN, NETWORKS } from '../core/params.js';
import { TRANSFER_BYTES, signTransfer, txToJson } from '../core/transaction.js';
import type { AccountView, BlockView, NodeInfo } from '../node/node-api.js';
import { readApiToken } from '../node/api-token.js';
import { DEFAULT_OVERVIEW_PORT, startDevnetOverview, type DevnetOverview } from './devnet-overview.js';

/** How often the summary is redrawn, ms. */
export const SUMMARY_INTERVAL_MS = 1_000;
/** Default pause between generated transactions, ms. */
export const DEFAULT_TX_INTERVAL_MS = 250;
/** Longest wait for the peers to agree on one tip at the end of a timed run, ms. */
export const AGREEMENT_TIMEOUT_MS = 20_000;
/** Longest wait for a started process to answer, ms. */
export const START_TIMEOUT_MS = 30_000;
/** Number of user wallets (besides the three mining keys) the generator moves coins between. */
export const USER_WALLETS = 4;
/** @default 9090 — UDP port of the devnet's Senz switch (`--senz`; document 000's port). */
export const DEVNET_SWITCH_PORT = 9090;
/** The peer that runs the coin service under `--senz`. */
export const DEVNET_COIN_PEER = 'peer1';

const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const MAIN = join(PACKAGE_ROOT, 'dist/src/cli/main.js');

export interface DevnetOptions {
  /** Seconds to run; undefined runs until SIGINT. */
  duration?: number;
  /** Port of the overview page (three dashboards side by side); 0 = any free port. @default DEFAULT_OVERVIEW_PORT */
  overviewPort?: number;
  dataDir: string;
  configDir: string;
  nats?: string;
  txIntervalMs: number;
  fresh: boolean;
  /** Also run a Senz switch and make {@link DEVNET_COIN_PEER} a coin service (docs/senz.md). */
  senz?: boolean;
}

interface PeerProc {
  name: string;
  child: ChildProcess;
  api: string;
  exited: Promise<void>;
}

interface Wallet {
  name: string;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
  /** Peer (index) this wallet submits to, so its nonces stay in order. */
  peer: number;
  nextNonce: number;
}

/** Registers `cheesechain devnet`. */
export function registerDevnetCommand(program: Command): void {
  program
    .command('devnet')
    .description('run a tracker and three mining peers on 127.0.0.1 with a transaction generator and a live summary')
    .option('--duration <seconds>', 'stop after this many seconds and report whether all peers agree on the tip (exit 1 if not)', parsePositiveInt)
    .option('--data-dir <dir>', 'folder for the peers\' data and logs', 'data/devnet')
    .option('--config-dir <dir>', 'folder with tracker.json and peer1..3.json', join(PACKAGE_ROOT, 'config/devnet'))
    .option('--nats <url>', 'publish every peer\'s events on this NATS server')
    .option('--tx-interval <ms>', 'pause between generated transactions, ms', parsePositiveInt, DEFAULT_TX_INTERVAL_MS)
    .option('--fresh', 'delete the data folder first', false)
    .option('--senz', `also run a Senz switch on udp 127.0.0.1:${DEVNET_SWITCH_PORT} and make ${DEVNET_COIN_PEER} the coin service "coins" (docs/senz.md)`, false)
    .option('--overview-port <n>', 'port of the page showing the three dashboards side by side (0 = any free port)', parsePort, DEFAULT_OVERVIEW_PORT)
    .action(async (o: { duration?: number; dataDir: string; configDir: string; nats?: string; txInterval: number; fresh: boolean; senz: boolean; overviewPort: number }) => {
      const code = await runDevnet({
        duration: o.duration,
        dataDir: resolve(o.dataDir),
        configDir: resolve(o.configDir),
        nats: o.nats,
        txIntervalMs: o.txInterval,
        fresh: o.fresh,
        senz: o.senz,
        overviewPort: o.overviewPort,
      });
      process.exit(code);
    });
}

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`expected a port from 0 to 65535, got ${JSON.stringify(v)}`);
  return n;
}

function parsePositiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`expected a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

function waitForPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolvePort, reject) => {
    const attempt = (): void => {
      const s = connect({ host, port });
      s.once('connect', () => {
        s.destroy();
        resolvePort();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

function spawnLogged(name: string, args: string[], logFile: string, env?: NodeJS.ProcessEnv): { child: ChildProcess; exited: Promise<void> } {
  const log = createWriteStream(logFile, { flags: 'a' });
  // A process group of its own: Ctrl-C on the terminal reaches only the devnet, which still reads the peers for its
  // summary before it stops them.
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, detached: true });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return { child, exited };
}

/** The message of the last fatal line of a peer's JSON log (pino level 60), if any. */
function lastFatal(logFile: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.trimEnd().split('\n').reverse()) {
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
      if (entry.level === 60) return entry.err?.message ?? entry.msg;
    } catch {
      // A line the node printed for people, not JSON: not the fatal record.
    }
  }
  return undefined;
}

function loadWallets(opts: DevnetOptions, peerCount: number): Wallet[] {
  const wallets: Wallet[] = [];
  for (let i = 0; i < peerCount; i++) {
    const file = join(opts.dataDir, `peer${i + 1}`, 'miner.key');
    const k = JSON.parse(readFileSync(file, 'utf8')) as { publicKey: string; secretKey: string };
    wallets.push({ name: `miner${i + 1}`, publicKey: fromHex(k.publicKey, 32), secretKey: fromHex(k.secretKey, 64), peer: i, nextNonce: 0 });
  }
  const dir = join(opts.dataDir, 'wallets');
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < USER_WALLETS; i++) {
    const file = join(dir, `user${i + 1}.key`);
    if (!existsSync(file)) {
      const kp = generateKeyPair();
      writeFileSync(file, JSON.stringify({ publicKey: toHex(kp.publicKey), secretKey: toHex(kp.secretKey) }) + '\n', { mode: 0o600 });
    }
    const k = JSON.parse(readFileSync(file, 'utf8')) as { publicKey: string; secretKey: string };
    wallets.push({ name: `user${i + 1}`, publicKey: fromHex(k.publicKey, 32), secretKey: fromHex(k.secretKey, 64), peer: i % peerCount, nextNonce: 0 });
  }
  return wallets;
}

/** Document 003's "create transaction": a random signed transfer between the devnet's wallets. */
async function sendRandomTransaction(wallets: Wallet[], peers: PeerProc[], networkId: Uint8Array, stats: { sent: number; refused: number }, senders: Wallet[] = wallets): Promise<void> {
  const sender = senders[Math.floor(Math.random() * senders.length)]!;
  let recipient = wallets[Math.floor(Math.random() * wallets.length)]!;
  if (recipient === sender) recipient = wallets[(wallets.indexOf(sender) + 1) % wallets.length]!;
  const api = peers[sender.peer]!.api;
  const account = await getJson<AccountView>(`${api}/accounts/${toHex(sender.publicKey)}`);
  const balance = BigInt(account.balance);
  // At least the default minimum relay fee (1 base unit per byte) plus a random tip, so fees still order the template.
  const fee = BigInt(TRANSFER_BYTES + Math.floor(Math.random() * 1000));
  if (balance < COIN) return;
  const amount = 1_000n + BigInt(Math.floor(Math.random() * 1e6)) * (balance / 100n / 1_000_000n + 1n);
  const nonce = Math.max(sender.nextNonce, account.pendingNonce);
  const tx = signTransfer(networkId, { recipient: recipient.publicKey, amount: amount > balance / 10n ? balance / 10n : amount, fee, nonce }, sender.secretKey);
  const res = await fetch(`${api}/tx`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(txToJson(tx)), signal: AbortSignal.timeout(5_000) });
  if (res.ok) {
    sender.nextNonce = nonce + 1;
    stats.sent++;
  } else {
    sender.nextNonce = account.pendingNonce;
    stats.refused++;
  }
}

function short(hash: string): string {
  return hash.slice(0, 16) + '…';
}

function formatRate(hps: number): string {
  if (hps >= 1e6) return `${(hps / 1e6).toFixed(2)} MH/s`;
  if (hps >= 1e3) return `${(hps / 1e3).toFixed(1)} kH/s`;
  return `${hps.toFixed(0)} H/s`;
}

/** What the devnet reads of its Senz parts (from their LMDB folders, which LMDB lets another process read). */
interface SenzCounts {
  users: number;
  coins: number;
  confirmed: number;
}

function renderSummary(infos: Array<NodeInfo | undefined>, peers: PeerProc[], started: number, stats: { sent: number; refused: number }, senz?: SenzCounts): string {
  const secs = Math.floor((Date.now() - started) / 1000);
  const lines = [
    `cheesechain devnet — ${secs} s — transactions sent ${stats.sent}, refused ${stats.refused} — Ctrl-C stops`,
    'peer    height  tip                 peers  mempool  hash rate      won',
  ];
  infos.forEach((info, i) => {
    const name = peers[i]!.name.padEnd(6);
    if (!info) lines.push(`${name}  (not answering)`);
    else
      lines.push(
        `${name}  ${String(info.height).padStart(6)}  ${short(info.tip)}   ${String(info.peers).padStart(5)}  ${String(info.mempool).padStart(7)}  ${formatRate(info.hashRate).padStart(12)}  ${String(info.blocksWon).padStart(5)}`,
      );
  });
  if (senz) lines.push(`senz: switch udp 127.0.0.1:${DEVNET_SWITCH_PORT}, ${senz.users} users; coin service "coins" on ${DEVNET_COIN_PEER}: ${senz.coins} coins issued, ${senz.confirmed} confirmed`);
  return lines.join('\n');
}

/**
 * Runs the devnet: a tracker, then three peers (document 003's run order),
 * each its own process with its own LMDB folder under `dataDir`; a generator
 * of random signed transfers; a summary redrawn every second. Resolves with
 * the exit code: 0, or 1 when a timed run ends with peers on different tips.
 */
export async function runDevnet(opts: DevnetOptions): Promise<number> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first`);
  if (opts.fresh) rmSync(opts.dataDir, { recursive: true, force: true });
  mkdirSync(opts.dataDir, { recursive: true });
  const trackerConfig = JSON.parse(readFileSync(join(opts.configDir, 'tracker.json'), 'utf8')) as { host: string; port: number };
  const peerFiles = readdirSync(opts.configDir).filter((f) => /^peer\d+\.json$/.test(f)).sort();
  const procs: Array<{ child: ChildProcess; exited: Promise<void> }> = [];
  const stopAll = async (): Promise<void> => {
    for (const p of [...procs].reverse()) p.child.kill('SIGTERM');
    await Promise.all(procs.map((p) => p.exited));
  };
  // The children no longer share the terminal's signals: whatever ends this process ends them too.
  process.once('exit', () => {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  });

  const tracker = spawnLogged('tracker', ['tracker', '--config', join(opts.configDir, 'tracker.json')], join(opts.dataDir, 'tracker.log'));
  procs.push(tracker);
  if (opts.senz) {
    procs.push(spawnLogged('switch', ['switch', '--port', String(DEVNET_SWITCH_PORT), '--data-dir', join(opts.dataDir, 'switch')], join(opts.dataDir, 'switch.log')));
  }
  const peers: PeerProc[] = [];
  try {
    await waitForPort(trackerConfig.host, trackerConfig.port, START_TIMEOUT_MS);
    for (const file of peerFiles) {
      const name = file.replace(/\.json$/, '');
      const cfg = JSON.parse(readFileSync(join(opts.configDir, file), 'utf8')) as { api: { host: string; port: number } };
      const args = ['node', '--config', join(opts.configDir, file), '--data-dir', join(opts.dataDir, name)];
      if (opts.nats) args.push('--nats', opts.nats);
      // The coin service is configured through the environment (precedence: file < environment), so the devnet's files stay as they are.
      const env = opts.senz && name === DEVNET_COIN_PEER ? { CHEESECHAIN_SENZ_SWITCH: `127.0.0.1:${DEVNET_SWITCH_PORT}` } : undefined;
      const p = spawnLogged(name, args, join(opts.dataDir, `${name}.log`), env);
      procs.push(p);
      peers.push({ name, ...p, api: `http://${cfg.api.host}:${cfg.api.port}` });
    }
    for (const p of peers) {
      const u = new URL(p.api);
      const exited = p.exited.then(() => {
        throw new Error(`${p.name} exited before its API came up: ${lastFatal(join(opts.dataDir, `${p.name}.log`)) ?? `see ${join(opts.dataDir, `${p.name}.log`)}`}${opts.fresh ? '' : ' (--fresh starts over with a new data folder)'}`);
      });
      await Promise.race([waitForPort(u.hostname, Number(u.port), START_TIMEOUT_MS), exited]);
      exited.catch(() => undefined);
    }
  } catch (err) {
    await stopAll();
    throw err;
  }

  // Document 003's three windows: each peer's dashboard (its token is in its data folder once its API runs), and one page with all three.
  const dashboards = peers.map((p) => ({ name: p.name, dashboardUrl: `${p.api}/?token=${readApiToken(join(opts.dataDir, p.name))}` }));
  let overview: DevnetOverview | undefined;
  try {
    overview = await startDevnetOverview(dashboards, { port: opts.overviewPort ?? DEFAULT_OVERVIEW_PORT });
  } catch (err) {
    console.log(`no overview page: ${(err as Error).message}`);
  }
  const urls = [...dashboards.map((d) => `dashboard of ${d.name}: ${d.dashboardUrl}`), ...(overview ? [`all three side by side: ${overview.url}`] : [])].join('\n');
  console.log(urls);
  // Each peer goes by the authenticated id of its identity key (only its key holder can claim it): the name it has
  // here is the config file's, so say which id is which (NATS subjects, bans and the dashboards' peer lists use the id).
  const atStart = await Promise.all(peers.map((p) => getJson<NodeInfo>(`${p.api}/info`)));
  console.log(atStart.map((info, i) => `${peers[i]!.name} is node ${info.nodeId}`).join('\n'));

  const first = atStart[0]!;
  const startHeight = first.height;
  const networkId = hashFromHex(first.networkId);
  const wallets = loadWallets(opts, peers.length);
  const stats = { sent: 0, refused: 0 };
  const started = Date.now();
  let running = true;
  const tty = Boolean(process.stdout.isTTY);

  // Under --senz the coin service owns its peer's mining key and its nonces: the generator never spends from it.
  const senders = opts.senz ? wallets.filter((w) => w.name !== `miner${peers.findIndex((p) => p.name === DEVNET_COIN_PEER) + 1}`) : wallets;
  const senz = opts.senz ? await openSenzCounts(opts.dataDir) : undefined;
  if (opts.senz) {
    console.log(`senz: switch on udp 127.0.0.1:${DEVNET_SWITCH_PORT} (name mysensors), coin service "coins" on ${DEVNET_COIN_PEER}. Try:`);
    console.log('  cheesechain senz keygen --name alice && cheesechain senz register --name alice');
    console.log('  cheesechain senz coin --name alice --service-id 1 --param colombo-kandy-115km');
  }
  const generator = (async () => {
    while (running) {
      await sendRandomTransaction(wallets, peers, networkId, stats, senders).catch(() => stats.refused++);
      await new Promise((r) => setTimeout(r, opts.txIntervalMs));
    }
  })();
  let lastPlain = 0;
  const poll = async (): Promise<Array<NodeInfo | undefined>> => Promise.all(peers.map((p) => getJson<NodeInfo>(`${p.api}/info`).catch(() => undefined)));
  const summary = setInterval(() => {
    void poll().then((infos) => {
      if (!running) return;
      const text = renderSummary(infos, peers, started, stats, senz?.());
      if (tty) logUpdate(`${urls}\n\n${text}`);
      else if (Date.now() - lastPlain >= 5_000) {
        lastPlain = Date.now();
        console.log(text);
      }
    });
  }, SUMMARY_INTERVAL_MS);

  const finished = new Promise<'signal' | 'duration'>((r) => {
    process.once('SIGINT', () => r('signal'));
    process.once('SIGTERM', () => r('signal'));
    process.once('SIGHUP', () => r('signal'));
    if (opts.duration) setTimeout(() => r('duration'), opts.duration * 1000);
  });
  const why = await finished;
  running = false;
  clearInterval(summary);
  await generator;
  if (tty) logUpdate.done();

  let code = 0;
  if (why === 'duration') {
    const deadline = Date.now() + AGREEMENT_TIMEOUT_MS;
    let infos = await poll();
    while (Date.now() < deadline && !agree(infos)) {
      await new Promise((r) => setTimeout(r, 500));
      infos = await poll();
    }
    console.log(renderSummary(infos, peers, started, stats, senz?.()));
    if (agree(infos)) {
      console.log(`all ${peers.length} peers agree on tip ${infos[0]!.tip} at height ${infos[0]!.height}`);
    } else {
      console.log(`peers disagree: ${infos.map((i, n) => `${peers[n]!.name}=${i ? `${i.height}/${short(i.tip)}` : 'down'}`).join(' ')}`);
      code = 1;
    }
  }
  console.log(await blockTimeLine(peers[0]!.api, startHeight).catch((err: Error) => `block time: not available (${err.message})`));
  await overview?.close();
  await stopAll();
  senz?.close();
  return code;
}

/** Block intervals of a run: from consecutive header times, seconds. */
export interface IntervalStats {
  blocks: number;
  median: number;
  mean: number;
  longest: number;
}

/**
 * Interval statistics of consecutive header times (seconds, ascending by
 * height); undefined with fewer than two times. Header times are whole
 * seconds, so the figures are too.
 */
export function intervalStats(times: readonly number[]): IntervalStats | undefined {
  if (times.length < 2) return undefined;
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  const sorted = [...gaps].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { blocks: gaps.length, median, mean: gaps.reduce((a, b) => a + b, 0) / gaps.length, longest: sorted[sorted.length - 1]! };
}

/** Most blocks read back for the interval statistics at exit (the last ones of the run). */
const MAX_STATS_BLOCKS = 2_000;

/** Most a devnet's median interval may stray from the target, as a fraction of it. */
export const MEDIAN_TOLERANCE = 0.3;
/** Longest gap a devnet may show, in targets. */
export const MAX_GAP_TARGETS = 10;

/**
 * The block-time line of the summary at exit, from consecutive header times
 * (seconds) of the blocks mined during the run: the median interval against
 * `target` ± {@link MEDIAN_TOLERANCE}, the mean against the same band, and the longest gap against
 * {@link MAX_GAP_TARGETS} targets. For exponential block times (proof of
 * work at a steady hash rate) the median is ln 2 ≈ 0.69 of the mean, so even
 * a retarget that holds the mean at the target gives a median of 0.69 of
 * it, at the edge of the band: the line says so, and prints the mean.
 */
export function blockTimeSummary(times: readonly number[], target: number): string {
  const st = intervalStats(times);
  if (!st) return `block time: fewer than two blocks mined (target ${target} s)`;
  const within = Math.abs(st.median - target) <= MEDIAN_TOLERANCE * target;
  const meanWithin = Math.abs(st.mean - target) <= MEDIAN_TOLERANCE * target;
  const gapOk = st.longest <= MAX_GAP_TARGETS * target;
  return (
    `block time over ${st.blocks} intervals: median ${st.median.toFixed(1)} s (target ${target} s, ${within ? 'within' : 'outside'} ±${MEDIAN_TOLERANCE * 100} %; ` +
    `exponential intervals of mean ${target} s have median ${(Math.LN2 * target).toFixed(2)} s), mean ${st.mean.toFixed(2)} s (${meanWithin ? 'within' : 'outside'} ±${MEDIAN_TOLERANCE * 100} %), ` +
    `longest gap ${st.longest} s (${(st.longest / target).toFixed(1)} targets, ${gapOk ? 'within' : 'over'} the limit of ${MAX_GAP_TARGETS})`
  );
}

/** {@link blockTimeSummary} of the main chain of the peer at `api` from `fromHeight` (at most the last {@link MAX_STATS_BLOCKS}). */
async function blockTimeLine(api: string, fromHeight: number): Promise<string> {
  const info = await getJson<NodeInfo>(`${api}/info`);
  // Genesis carries a time fixed in advance: the first interval counted is block 1 → 2.
  const start = Math.max(fromHeight, 1, info.height - MAX_STATS_BLOCKS);
  const times: number[] = [];
  for (let h = start; h <= info.height; h++) times.push((await getJson<BlockView>(`${api}/blocks/height/${h}`)).block.header.time);
  return blockTimeSummary(times, NETWORKS.devnet.blockTimeSeconds);
}

function agree(infos: Array<NodeInfo | undefined>): boolean {
  return infos.every((i) => i && i.tip === infos[0]!.tip);
}

/**
 * Counts of the devnet's Senz parts, read from the switch's and the coin
 * service's LMDB folders (read-only; each may not exist yet, then it counts 0).
 */
async function openSenzCounts(dataDir: string): Promise<(() => SenzCounts) & { close(): void }> {
  const { SwitchUserStore } = await import('../senz/user-store.js');
  const { CoinStore } = await import('../senz/coin-store.js');
  const { COIN_STORE_DIR } = await import('../senz/coin-service.js');
  const { SWITCH_FILES } = await import('../senz/switch.js');
  let users: ReturnType<typeof SwitchUserStore.open> | undefined;
  let coins: ReturnType<typeof CoinStore.open> | undefined;
  const read = (): SenzCounts => {
    try {
      users ??= existsSync(join(dataDir, 'switch', SWITCH_FILES.users)) ? SwitchUserStore.open(join(dataDir, 'switch', SWITCH_FILES.users), true) : undefined;
      coins ??= existsSync(join(dataDir, DEVNET_COIN_PEER, COIN_STORE_DIR)) ? CoinStore.open(join(dataDir, DEVNET_COIN_PEER, COIN_STORE_DIR), true) : undefined;
    } catch {
      // not created yet by its process
    }
    return { users: users?.count() ?? 0, ...(coins?.counts() ?? { coins: 0, confirmed: 0 }) };
  };
  return Object.assign(read, {
    close: () => {
      void users?.close();
      void coins?.close();
    },
  });
}
