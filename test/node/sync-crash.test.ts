/**
 * Fast sync connects runs of blocks in one LMDB write transaction: a peer
 * killed with SIGKILL in the middle of its sync keeps a chain that ends at a
 * batch boundary, whose every block and account agree with the chain it was
 * syncing, and finishes the sync after a restart.
 */
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { LmdbBlockStore } from '../../src/store/lmdb-store.js';
import { DATA_FILES } from '../../src/node/data-dir.js';
import { ChainBuilder, keyFromSeed, regtest, storeIdentity } from '../helpers/chain-builder.js';
import { startPeer } from '../network/helpers.js';

/** SIGKILLs during the sync. */
const KILLS = 3;
/** Longest random delay between the first block a run connects and its kill, ms. */
const MAX_KILL_DELAY_MS = 150;
/** Blocks of the chain synced: enough that a sync outlasts several kills on a fast machine. */
const BLOCKS = 2_000;

const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

interface Run {
  child: ChildProcess;
  lastHeight: () => number;
  exit: Promise<NodeJS.Signals | number | null>;
  /** Resolves with the first height this run connects. */
  first: Promise<number>;
  /** Resolves when the run logs a connected block at `height`. */
  reached: (height: number) => Promise<void>;
}

function startSyncingPeer(configPath: string): Run {
  const child = spawn(process.execPath, [main, 'node', '--config', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let last = -1;
  let firstSeen!: (h: number) => void;
  const first = new Promise<number>((r) => (firstSeen = r));
  const waiters: Array<{ height: number; resolve: () => void }> = [];
  const exit = new Promise<NodeJS.Signals | number | null>((res) => child.on('exit', (code, signal) => res(signal ?? code)));
  createInterface({ input: child.stderr! }).on('line', (line) => {
    let rec: { msg?: string; height?: number };
    try {
      rec = JSON.parse(line);
    } catch {
      return;
    }
    if (rec.msg !== 'block connected' || typeof rec.height !== 'number') return;
    if (last < 0) firstSeen(rec.height);
    last = rec.height;
    for (let i = waiters.length - 1; i >= 0; i--) if (last >= waiters[i]!.height) waiters.splice(i, 1)[0]!.resolve();
  });
  const reached = (height: number): Promise<void> => (last >= height ? Promise.resolve() : new Promise((resolve) => waiters.push({ height, resolve })));
  return { child, lastHeight: () => last, exit, first, reached };
}

t.test('a peer killed with SIGKILL while it syncs in batches keeps a consistent chain and finishes after a restart', async (t) => {
  // The chain to sync: transfers in most blocks, so that every batch changes accounts.
  const b = new ChainBuilder(regtest, { miner: keyFromSeed(60) });
  const payees = Array.from({ length: 8 }, (_, i) => keyFromSeed(600 + i));
  b.extend(BLOCKS, (h, x) => (h < 2 ? [] : [x.pay(x.miner, payees[h % payees.length]!, 10n + BigInt(h), 1n)]));

  // The seed's store written directly, then the seed started on it.
  const seedDir = mkdtempSync(join(tmpdir(), 'cheesechain-sync-seed-'));
  t.teardown(() => rmSync(seedDir, { recursive: true, force: true }));
  const seedStore = new LmdbBlockStore({ path: join(seedDir, DATA_FILES.chain) });
  await seedStore.open(storeIdentity(regtest));
  await seedStore.connectBlocks(b.built);
  await seedStore.close();
  const seed = await startPeer(t, { nodeId: 'seed', overrides: { dataDir: seedDir } });

  const dir = mkdtempSync(join(tmpdir(), 'cheesechain-sync-crash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const configPath = join(dir, 'node.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      network: 'regtest',
      dataDir: join(dir, 'data'),
      listen: { port: 0 },
      peers: [`127.0.0.1:${seed.listenPort}`],
      api: { enabled: false },
      verification: { threads: 1 },
      log: { level: 'info' },
    }),
  );

  let previousLast = 0;
  let killedMidSync = 0;
  for (let i = 0; i < KILLS; i++) {
    const run = startSyncingPeer(configPath);
    t.teardown(() => run.child.kill('SIGKILL'));
    const first = await run.first;
    // Every block a killed run logged as connected was committed: the next run starts above it.
    t.ok(first > previousLast, `run ${i} starts above the last logged height ${previousLast} (first block ${first})`);
    await new Promise((r) => setTimeout(r, Math.random() * MAX_KILL_DELAY_MS));
    run.child.kill('SIGKILL');
    t.equal(await run.exit, 'SIGKILL', `run ${i} died by SIGKILL`);
    previousLast = run.lastHeight();
    if (previousLast < BLOCKS) killedMidSync++;
  }
  t.ok(killedMidSync >= KILLS / 2, `${killedMidSync} of ${KILLS} kills hit a peer in the middle of its sync`);

  // What the store holds after the last kill: a prefix of the chain, exactly.
  const store = new LmdbBlockStore({ path: join(dir, 'data', DATA_FILES.chain) });
  await store.open(storeIdentity(regtest));
  const tip = store.getTip();
  t.ok(tip.height >= previousLast, `the stored tip ${tip.height} is at least the last logged height ${previousLast}`);
  t.equal(tip.hash, b.blocks[tip.height]!.entry.hash, 'the stored tip is a block of the synced chain');
  let same = true;
  for (let h = 1; h <= tip.height && same; h++) same = store.getHashAtHeight(h) === b.blocks[h]!.entry.hash && store.getBlock(b.blocks[h]!.entry.hash) !== undefined;
  t.ok(same, 'every height up to the tip holds its block');
  const atTip = b.fork(tip.height);
  for (const [key, account] of atTip.accounts()) t.same(store.getAccount(key), account, `account ${key.slice(0, 8)} as the chain leaves it at height ${tip.height}`);
  await store.close();

  // A restart finishes the sync.
  const last = startSyncingPeer(configPath);
  t.teardown(() => last.child.kill('SIGKILL'));
  await last.reached(BLOCKS);
  t.pass(`the restarted peer synced to height ${BLOCKS}`);
  last.child.kill('SIGTERM');
  await last.exit;
});
