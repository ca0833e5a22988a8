import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { open } from 'lmdb';
import t from 'tap';
import { NETWORKS } from '../../src/core/params.js';
import { txid as txidOf } from '../../src/core/transaction.js';
import { DB_NAMES, IDENTITY_FILE, LMDB_DATA_FILE, META_KEYS } from '../../src/store/keys.js';
import { LmdbBlockStore } from '../../src/store/lmdb-store.js';
import { ChainBuilder, buildChain, keyFromSeed, keyHex, regtest, storeIdentity, type BuildChainOptions } from '../helpers/chain-builder.js';
import { blockStoreSuite } from './block-store.suite.js';

blockStoreSuite(t, 'LmdbBlockStore', (t) => new LmdbBlockStore({ path: join(t.testdir(), 'chain') }));

/** Name → sha256 of every file in a folder (recursively), to prove a refusal changed nothing. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, prefix: string): void => {
    for (const f of readdirSync(d).sort()) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p, `${prefix}${f}/`);
      else out[prefix + f] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir, '');
  return out;
}

async function makeStore(path: string, blocks = 3): Promise<ChainBuilder> {
  const store = new LmdbBlockStore({ path });
  await store.open(storeIdentity(regtest));
  const { builder } = buildChain(regtest, blocks, { transfersPerBlock: 1 });
  for (const b of builder.built) await store.connectBlock(b.entry, b.block, b.changes, b.undo);
  await store.close();
  return builder;
}

t.test('LmdbBlockStore: close and reopen continues from the stored tip', async (t) => {
  const path = join(t.testdir(), 'chain');
  const builder = await makeStore(path, 4);
  const store = new LmdbBlockStore({ path });
  await store.open(storeIdentity(regtest));
  t.teardown(() => store.close());
  t.same(store.getTip(), { hash: builder.tip.hash, height: 4, chainWork: builder.tip.chainWork });
  t.same(store.getAccount(builder.miner.publicKey.reduce((s, x) => s + x.toString(16).padStart(2, '0'), '')), builder.account(builder.miner));
  for (const b of builder.extend(2, (_h, bb) => [bb.pay(bb.miner, keyFromSeed(1), 5n)])) await store.connectBlock(b.entry, b.block, b.changes, b.undo);
  t.equal(store.getTip().height, 6);
  t.equal(store.getHashAtHeight(5), builder.blocks[5]!.entry.hash);
  t.equal([...store.entries()].length, 7);
});

t.test('LmdbBlockStore: a folder of another network is refused and left byte-for-byte unchanged', async (t) => {
  const path = join(t.testdir(), 'chain');
  await makeStore(path);
  const before = snapshot(path);
  const store = new LmdbBlockStore({ path });
  const err = await store.open(storeIdentity(NETWORKS.devnet)).catch((e: unknown) => e);
  t.match(err, { name: 'StoreError', code: 'ERR_STORE', reason: 'wrong-network' });
  t.match((err as Error).message, /regtest/, 'names the stored network');
  t.match((err as Error).message, /devnet/, 'names the requested network');
  t.same(snapshot(path), before, 'no file changed');
  t.throws(() => store.getTip(), { code: 'ERR_STORE', reason: 'closed' });
});

t.test('LmdbBlockStore: corrupt folders are refused and left unchanged', async (t) => {
  const cases: Array<[string, RegExp, (dir: string) => Promise<void> | void]> = [
    ['a garbage data.mdb', /no cheesechain store \(data\.mdb/, (dir) => writeFileSync(join(dir, LMDB_DATA_FILE), Buffer.alloc(8192, 0x5a))],
    ['unrelated files', /holds files but no cheesechain store \(notes\.txt, photos/, (dir) => {
      writeFileSync(join(dir, 'notes.txt'), 'my thesis\n');
      mkdirSync(join(dir, 'photos'));
    }],
    ['a store whose data.mdb was overwritten', /is not an LMDB environment/, async (dir) => {
      await makeStore(dir);
      writeFileSync(join(dir, LMDB_DATA_FILE), Buffer.alloc(4096, 1));
    }],
    ['a store whose data.mdb is truncated', /is not an LMDB environment/, async (dir) => {
      await makeStore(dir);
      writeFileSync(join(dir, LMDB_DATA_FILE), Buffer.alloc(10));
    }],
    ['an unreadable marker', /is unreadable/, async (dir) => {
      await makeStore(dir);
      writeFileSync(join(dir, IDENTITY_FILE), '{"format": nope');
    }],
    ['a marker of another schema version', /schema version 99/, async (dir) => {
      await makeStore(dir);
      const m = JSON.parse(readFileSync(join(dir, IDENTITY_FILE), 'utf8'));
      writeFileSync(join(dir, IDENTITY_FILE), JSON.stringify({ ...m, schemaVersion: 99 }));
    }],
    ['a store without its tip entry', /tip entry is missing/, async (dir) => {
      await makeStore(dir);
      await editLmdb(dir, (db) => db.meta.removeSync(META_KEYS.tip));
    }],
    ['a tip that the height index does not name', /height index at the tip height 3/, async (dir) => {
      const b = await makeStore(dir);
      await editLmdb(dir, (db) => db.heights.putSync(3, Buffer.from(b.blocks[2]!.entry.hash, 'hex')));
    }],
    ['a height index past the tip', /goes past the tip/, async (dir) => {
      const b = await makeStore(dir);
      await editLmdb(dir, (db) => db.heights.putSync(4, Buffer.from(b.blocks[2]!.entry.hash, 'hex')));
    }],
    ['a path that is a file', /is a file/, (dir) => writeFileSync(join(dir, 'x'), 'x')],
  ];
  const root = t.testdir();
  for (const [i, [what, message, make]] of cases.entries()) {
    const dir = join(root, `case-${i}`);
    mkdirSync(dir);
    await make(dir);
    const path = what === 'a path that is a file' ? join(dir, 'x') : dir;
    const before = snapshot(dir);
    const store = new LmdbBlockStore({ path });
    await t.rejects(store.open(storeIdentity(regtest)), { name: 'StoreError', code: 'ERR_STORE', reason: 'corrupt', message }, `${what}: refused as corrupt`);
    const after = snapshot(dir);
    if (what.startsWith('a store without') || what.startsWith('a tip') || what.startsWith('a height')) {
      // These are only found by reading LMDB, which rewrites its reader table in lock.mdb.
      delete before['lock.mdb'];
      delete after['lock.mdb'];
    }
    t.same(after, before, `${what}: unchanged`);
  }
});

/** Opens a store's LMDB directly, to damage it. */
async function editLmdb(dir: string, edit: (db: { meta: ReturnType<typeof metaDb>; heights: ReturnType<typeof heightsDb> }) => void): Promise<void> {
  const env = open({ path: dir });
  const db = { meta: metaDb(env), heights: heightsDb(env) };
  env.transactionSync(() => edit(db));
  await env.close();
}
function metaDb(env: ReturnType<typeof open>) {
  return env.openDB<string, string>({ name: DB_NAMES.meta, encoding: 'string' });
}
function heightsDb(env: ReturnType<typeof open>) {
  return env.openDB<Buffer, number>({ name: DB_NAMES.heights, encoding: 'binary', keyEncoding: 'uint32' });
}

t.test('LmdbBlockStore: an empty folder or one left by an interrupted initialisation is initialised', async (t) => {
  const root = t.testdir();
  const empty = join(root, 'empty');
  mkdirSync(empty);
  const s1 = new LmdbBlockStore({ path: empty });
  await s1.open(storeIdentity(regtest));
  t.equal(s1.getTip().height, 0);
  await s1.close();
  t.ok(existsSync(join(empty, IDENTITY_FILE)), 'the marker is written');

  const marker = readFileSync(join(empty, IDENTITY_FILE), 'utf8');
  for (const [what, files] of [
    ['the marker alone', { [IDENTITY_FILE]: marker }],
    ['the marker and an empty data.mdb', { [IDENTITY_FILE]: marker, [LMDB_DATA_FILE]: '' }],
    ['a temporary marker that was never renamed', { [`${IDENTITY_FILE}.tmp`]: marker.slice(0, 10) }],
  ] as const) {
    const dir = join(root, what.replace(/\W+/g, '-'));
    mkdirSync(dir);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const s = new LmdbBlockStore({ path: dir });
    await s.open(storeIdentity(regtest));
    t.equal(s.getTip().height, 0, `${what}: initialised`);
    await s.close();
  }
});

/** The chain both the killed writer and the checker build (deterministic keys, so the same blocks). */
const CRASH_CHAIN = 200;
const crashChainOptions = (): BuildChainOptions => ({ miner: keyFromSeed(1), recipients: [keyFromSeed(2), keyFromSeed(3), keyFromSeed(4)], transfersPerBlock: 2 });

/**
 * A writer process: opens the store, connects the deterministic chain from its
 * stored tip on, and every third block also disconnects and reconnects the
 * tip, printing each height it finished.
 */
const WRITER = `
const [builderUrl, storeUrl, path, n] = process.argv.slice(1);
const { buildChain, keyFromSeed, regtest, storeIdentity } = await import(builderUrl);
const { LmdbBlockStore } = await import(storeUrl);
const store = new LmdbBlockStore({ path });
await store.open(storeIdentity(regtest));
const { blocks } = buildChain(regtest, Number(n), { miner: keyFromSeed(1), recipients: [keyFromSeed(2), keyFromSeed(3), keyFromSeed(4)], transfersPerBlock: 2 });
process.stdout.write('ready ' + store.getTip().height + '\\n');
for (const b of blocks.slice(store.getTip().height)) {
  await store.connectBlock(b.entry, b.block, b.changes, b.undo);
  if (b.entry.height % 3 === 0) {
    await store.disconnectTip();
    await store.connectBlock(b.entry, b.block, b.changes, b.undo);
  }
  process.stdout.write(b.entry.height + '\\n');
}
await store.close();
process.stdout.write('done\\n');
`;

t.test('LmdbBlockStore: a writer killed with SIGKILL at random moments always leaves a consistent store', async (t) => {
  const path = join(t.testdir(), 'chain');
  const { builder } = buildChain(regtest, CRASH_CHAIN, crashChainOptions());
  const keys = [1, 2, 3, 4].map((i) => keyHex(keyFromSeed(i)));
  const builderUrl = new URL('../helpers/chain-builder.js', import.meta.url).href;
  const storeUrl = new URL('../../src/store/lmdb-store.js', import.meta.url).href;
  const KILLS = 5;
  let lastHeight = 0;
  for (let round = 0; round < KILLS; round++) {
    const child = spawn(process.execPath, ['--input-type=module', '-e', WRITER, builderUrl, storeUrl, path, String(CRASH_CHAIN)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    let out = '';
    let progressed = 0;
    // Kill a random 0–40 ms after the writer connected its first few blocks: most of its time is spent inside write transactions.
    await new Promise<void>((resolve) => {
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        out += chunk;
        progressed = out.split('\n').filter((l) => /^\d+$/.test(l)).length;
        if (progressed >= 3) {
          child.stdout.removeAllListeners('data');
          setTimeout(resolve, Math.floor(Math.random() * 40));
        }
      });
      child.on('exit', () => resolve());
    });
    child.kill('SIGKILL');
    const signal = await exited;
    t.equal(signal, 'SIGKILL', `round ${round}: the writer was killed`);
    t.notMatch(out, /done/, `round ${round}: the writer was killed mid-work`);

    const store = new LmdbBlockStore({ path });
    await store.open(storeIdentity(regtest));
    const tip = store.getTip();
    t.ok(tip.height >= lastHeight && tip.height < CRASH_CHAIN, `round ${round}: reopened at height ${tip.height}`);
    const expected = builder.blocks[tip.height]!.entry;
    t.same(tip, { hash: expected.hash, height: expected.height, chainWork: expected.chainWork }, `round ${round}: the tip is a block of the chain`);
    let heightsOk = true;
    for (let h = 0; h <= tip.height; h++) if (store.getHashAtHeight(h) !== builder.blocks[h]!.entry.hash) heightsOk = false;
    t.ok(heightsOk && store.getHashAtHeight(tip.height + 1) === undefined, `round ${round}: the height index is exactly the chain up to the tip`);
    const state = builder.fork(tip.height);
    t.same(
      keys.map((k) => store.getAccount(k)),
      keys.map((k) => (state.accounts().has(k) ? state.account(k) : undefined)),
      `round ${round}: accounts are the state at the tip`,
    );
    for (const tx of builder.blocks[tip.height]!.block.txs.slice(0, 1)) t.ok(store.getTxLocation(txidOf(tx)), `round ${round}: the tip's coinbase is indexed`);
    const above = builder.blocks[tip.height + 1]!.block.txs[0]!;
    t.equal(store.getTxLocation(txidOf(above)), undefined, `round ${round}: nothing above the tip is indexed`);
    await store.close();
    lastHeight = tip.height;
  }
  t.ok(lastHeight > 0, 'the writers made progress');
});
