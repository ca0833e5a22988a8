import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { open } from 'lmdb';
import t from 'tap';
import { NETWORKS } from '../../src/core/params.js';
import { DB_NAMES, IDENTITY_FILE, LMDB_DATA_FILE, META_KEYS } from '../../src/store/keys.js';
import { LmdbBlockStore } from '../../src/store/lmdb-store.js';
import { ChainBuilder, buildChain, keyFromSeed, regtest, storeIdentity } from '../helpers/chain-builder.js';
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
  t.match(err, { name: 'StoreError', code: 'wrong-network' });
  t.match((err as Error).message, /regtest/, 'names the stored network');
  t.match((err as Error).message, /devnet/, 'names the requested network');
  t.same(snapshot(path), before, 'no file changed');
  t.throws(() => store.getTip(), { code: 'closed' });
});

t.test('LmdbBlockStore: corrupt folders are refused and left unchanged', async (t) => {
  const cases: Array<[string, (dir: string) => Promise<void> | void]> = [
    ['a garbage data.mdb', (dir) => writeFileSync(join(dir, LMDB_DATA_FILE), Buffer.alloc(8192, 0x5a))],
    ['unrelated files', (dir) => {
      writeFileSync(join(dir, 'notes.txt'), 'my thesis\n');
      mkdirSync(join(dir, 'photos'));
    }],
    ['a store whose data.mdb was overwritten', async (dir) => {
      await makeStore(dir);
      writeFileSync(join(dir, LMDB_DATA_FILE), Buffer.alloc(4096, 1));
    }],
    ['a store whose data.mdb is truncated', async (dir) => {
      await makeStore(dir);
      writeFileSync(join(dir, LMDB_DATA_FILE), Buffer.alloc(10));
    }],
    ['an unreadable marker', async (dir) => {
      await makeStore(dir);
      writeFileSync(join(dir, IDENTITY_FILE), '{"format": nope');
    }],
    ['a marker of another schema version', async (dir) => {
      await makeStore(dir);
      const m = JSON.parse(readFileSync(join(dir, IDENTITY_FILE), 'utf8'));
      writeFileSync(join(dir, IDENTITY_FILE), JSON.stringify({ ...m, schemaVersion: 99 }));
    }],
    ['a store without its tip entry', async (dir) => {
      await makeStore(dir);
      await editLmdb(dir, (db) => db.meta.removeSync(META_KEYS.tip));
    }],
    ['a tip that the height index does not name', async (dir) => {
      const b = await makeStore(dir);
      await editLmdb(dir, (db) => db.heights.putSync(3, Buffer.from(b.blocks[2]!.entry.hash, 'hex')));
    }],
    ['a height index past the tip', async (dir) => {
      const b = await makeStore(dir);
      await editLmdb(dir, (db) => db.heights.putSync(4, Buffer.from(b.blocks[2]!.entry.hash, 'hex')));
    }],
    ['a path that is a file', (dir) => writeFileSync(join(dir, 'x'), 'x')],
  ];
  for (const [what, make] of cases) {
    const root = t.testdir();
    const dir = join(root, 'chain');
    mkdirSync(dir);
    await make(dir);
    const path = what === 'a path that is a file' ? join(dir, 'x') : dir;
    const before = snapshot(dir);
    const store = new LmdbBlockStore({ path });
    await t.rejects(store.open(storeIdentity(regtest)), { name: 'StoreError', code: 'corrupt' }, `${what}: refused as corrupt`);
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
  const empty = t.testdir();
  const s1 = new LmdbBlockStore({ path: empty });
  await s1.open(storeIdentity(regtest));
  t.equal(s1.getTip().height, 0);
  await s1.close();
  t.ok(existsSync(join(empty, IDENTITY_FILE)), 'the marker is written');

  const markerOnly = t.testdir({ [IDENTITY_FILE]: readFileSync(join(empty, IDENTITY_FILE), 'utf8') });
  const s2 = new LmdbBlockStore({ path: markerOnly });
  await s2.open(storeIdentity(regtest));
  t.equal(s2.getTip().height, 0);
  await s2.close();
});
