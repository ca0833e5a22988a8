import type { CoinbaseTx } from '../../src/core/transaction.js';
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { networkParams, genesisBlock, networkId } from '../../src/core/genesis.js';
import { hashToHex } from '../../src/core/hash.js';
import { workFromBits } from '../../src/core/pow.js';
import { AccountOverlay } from '../../src/core/state.js';
import { checkBlock, checkHeaderContext, connectTransactions, medianTimePast, nextBits, type HeaderLike } from '../../src/core/validation.js';
import type { BlockIndexEntry } from '../../src/store/block-store.js';
import { LmdbBlockStore } from '../../src/store/lmdb-store.js';
import { MemoryBlockStore } from '../../src/store/memory-store.js';
import { trackChild } from '../helpers/processes.js';

/**
 * Kills of the peer with SIGKILL: fifty. Two in five hit a mining peer
 * (after its first block, so kills land in every phase of a block write);
 * the others hit a peer still recovering from the previous kill (loading,
 * opening its store and starting its actors, before it reports
 * `node started`), which costs less than a whole start.
 */
const KILLS = 50;
/** Whether kill `i` (from 0) hits a mining peer; the others hit a recovering one. */
const killsMining = (i: number): boolean => i % 5 === 0 || i % 5 === 2;
/** Longest random delay between the first block after a start and the kill, ms. */
const MAX_KILL_DELAY_MS = 300;
/** A kill counts as mid-work when the peer connected a block this recently, ms. */
const MID_WORK_WINDOW_MS = 100;

/** Fifty starts and re-validations take minutes on a shared 2-core machine: more than tap's 180 s default, ms. */
t.setTimeout(600_000);

const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const params = networkParams('regtest');
const netId = networkId(params);

function identity() {
  const genesis = genesisBlock(params);
  const genesisEntry: BlockIndexEntry = { hash: hashToHex(netId), header: genesis.header, height: 0, chainWork: workFromBits(genesis.header.bits) };
  return { network: params.name, networkId: hashToHex(netId), genesis, genesisEntry };
}

interface Run {
  child: ChildProcess;
  /** Height of the first block this run connected. */
  firstHeight: number;
  lastHeight: () => number;
  lastBlockAt: () => number;
  exit: Promise<NodeJS.Signals | number | null>;
}

/** Spawns the peer; `onLine` sees each JSON log record on stderr. */
function spawnPeer(configPath: string, onLine: (rec: { msg?: string; height?: number }) => void): { child: ChildProcess; exit: Promise<NodeJS.Signals | number | null> } {
  const child = trackChild(spawn(process.execPath, [main, 'node', '--config', configPath], { stdio: ['ignore', 'ignore', 'pipe'] }));
  const exit = new Promise<NodeJS.Signals | number | null>((res) => child.on('exit', (code, signal) => res(signal ?? code)));
  createInterface({ input: child.stderr! }).on('line', (line) => {
    try {
      onLine(JSON.parse(line));
    } catch {
      /* not a log record */
    }
  });
  return { child, exit };
}

/** Starts the peer and resolves once it has connected its first block; `onStarted` is called when it reports `node started`. */
function startPeer(configPath: string, onStarted: () => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    let last = -1;
    let lastAt = 0;
    let started = false;
    const { child, exit } = spawnPeer(configPath, (rec) => {
      if (rec.msg === 'node started') onStarted();
      if (rec.msg !== 'block connected' || typeof rec.height !== 'number') return;
      last = rec.height;
      lastAt = Date.now();
      if (!started) {
        started = true;
        resolve({ child, firstHeight: rec.height, lastHeight: () => last, lastBlockAt: () => lastAt, exit });
      }
    });
    void exit.then((how) => {
      if (!started) reject(new Error(`peer exited before mining (${String(how)})`));
    });
  });
}

/**
 * Starts the peer and kills it with SIGKILL `delayMs` after the spawn, or
 * when it reports `node started` if that comes first (so the kill lands
 * while it loads, opens its store and starts its actors).
 * @returns whether the kill came before `node started`, and how it ended.
 */
async function killDuringRecovery(configPath: string, delayMs: number): Promise<{ recovering: boolean; how: NodeJS.Signals | number | null }> {
  let recovering = true;
  let timer: NodeJS.Timeout | undefined;
  const { child, exit } = spawnPeer(configPath, (rec) => {
    if (rec.msg === 'node started' && recovering) {
      recovering = false;
      clearTimeout(timer);
      child.kill('SIGKILL');
    }
  });
  timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
  const how = await exit;
  clearTimeout(timer);
  return { recovering, how };
}

/**
 * Opens the stored chain (the peer is dead) and re-validates its main chain
 * from genesis into a fresh memory store: structure, header context, every
 * transaction, the chain work of each index entry, and the account state.
 * @returns the stored tip's height (-1 when a block fails; the failure is reported on `t`).
 */
async function revalidate(t: Test, chainPath: string, label: string): Promise<number> {
  const store = new LmdbBlockStore({ path: chainPath });
  await store.open(identity());
  const replay = new MemoryBlockStore();
  await replay.open(identity());
  try {
    const tip = store.getTip();
    const entries: HeaderLike[] = [identity().genesisEntry];
    let parent = identity().genesisEntry;
    const farFuture = 2 ** 32 - 1;
    for (let h = 1; h <= tip.height; h++) {
      const hash = store.getHashAtHeight(h)!;
      const block = store.getBlock(hash);
      if (!block) {
        t.fail(`${label}: block ${h} is missing from the store`);
        return -1;
      }
      const ancestor = (x: number) => entries[x];
      const structural = checkBlock(block, params, netId);
      const ctx = checkHeaderContext(block.header, { height: h, expectedBits: nextBits(parent, ancestor, params), medianTimePast: medianTimePast(parent, ancestor), prevTime: parent.header.time, now: farFuture }, params);
      const overlay = new AccountOverlay(replay);
      const maturedAt = h - params.coinbaseMaturity;
      const matured = maturedAt >= 1 ? (store.getBlock(store.getHashAtHeight(maturedAt)!)!.txs[0] as CoinbaseTx) : undefined;
      const connect = connectTransactions(block, h, overlay, params, matured);
      if (!structural.ok || !ctx.ok || !connect.ok || hashToHex(block.header.prevHash) !== parent.hash) {
        t.fail(`${label}: block ${h} does not re-validate: ${JSON.stringify({ structural, ctx, connect })}`);
        return -1;
      }
      const entry: BlockIndexEntry = { hash, header: block.header, height: h, chainWork: parent.chainWork + workFromBits(block.header.bits) };
      if (store.getEntry(hash)?.chainWork !== entry.chainWork) {
        t.fail(`${label}: stored chain work of block ${h} differs from the recomputed one`);
        return -1;
      }
      await replay.connectBlock(entry, block, overlay.changed, overlay.previous);
      entries.push(entry);
      parent = entry;
    }
    if (replay.getTip().hash !== tip.hash) {
      t.fail(`${label}: the replay ends at ${replay.getTip().hash}, not at the stored tip ${tip.hash}`);
      return -1;
    }
    if (tip.height > 0) {
      const miner = Buffer.from(store.getBlock(tip.hash)!.txs[0]!.recipient).toString('hex');
      if (JSON.stringify(store.getAccount(miner), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) !== JSON.stringify(replay.getAccount(miner), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))) {
        t.fail(`${label}: the stored account of the miner differs from the replayed one`);
        return -1;
      }
    }
    return tip.height;
  } finally {
    await store.close();
    await replay.close();
  }
}

t.test('a peer killed with SIGKILL fifty times, mining or recovering, keeps a chain that re-validates from genesis after every kill', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cheesechain-crash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const configPath = join(dir, 'node.json');
  const chainPath = join(dir, 'data', 'chain');
  writeFileSync(
    configPath,
    JSON.stringify({
      network: 'regtest',
      dataDir: join(dir, 'data'),
      listen: { port: 0 },
      api: { enabled: false },
      mining: { enabled: true, workers: 1, chunkMs: 20 },
      log: { level: 'info' },
    }),
  );

  let previousLast = 0;
  let midWork = 0;
  let duringRecovery = 0;
  let startMs = 1_000;
  for (let i = 0; i < KILLS; i++) {
    const label = `kill ${i + 1}`;
    if (!killsMining(i)) {
      // While it recovers: anywhere from the spawn to the moment it reports `node started`.
      const { recovering, how } = await killDuringRecovery(configPath, Math.random() * startMs);
      if (how !== 'SIGKILL') t.fail(`${label} (recovering): the peer ended by ${String(how)}, not SIGKILL`);
      if (recovering) duringRecovery++;
    } else {
      const spawnedAt = Date.now();
      const run = await startPeer(configPath, () => (startMs = Date.now() - spawnedAt));
      // Nothing a killed peer logged as connected may be lost: it restarts at or above that height.
      if (run.firstHeight <= previousLast) t.fail(`${label}: the run starts at ${run.firstHeight}, not above the last logged height ${previousLast}`);
      await new Promise((r) => setTimeout(r, Math.random() * MAX_KILL_DELAY_MS));
      const sinceBlock = Date.now() - run.lastBlockAt();
      run.child.kill('SIGKILL');
      const how = await run.exit;
      if (how !== 'SIGKILL') t.fail(`${label}: the peer ended by ${String(how)}, not SIGKILL`);
      if (sinceBlock <= MID_WORK_WINDOW_MS) midWork++;
      previousLast = run.lastHeight();
    }
    const height = await revalidate(t, chainPath, label);
    if (height < previousLast) t.fail(`${label}: the stored tip ${height} is below the last logged height ${previousLast}`);
  }
  t.pass(`${KILLS} kills, the chain re-validated from genesis after each (tip ${previousLast} or above)`);
  // How the kills fell depends on the machine's load: reported, and each kind required at least once.
  const miningKills = Array.from({ length: KILLS }, (_, i) => i).filter(killsMining).length;
  t.comment(`${midWork} of ${miningKills} mining kills within ${MID_WORK_WINDOW_MS} ms of a block; ${duringRecovery} of ${KILLS - miningKills} recovery kills before 'node started'`);
  t.ok(midWork >= 1, 'some kills hit a peer in the middle of connecting blocks');
  t.ok(duringRecovery >= 1, 'some kills hit a peer before it had finished starting');
});
