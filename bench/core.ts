/**
 * Core benchmarks, printed in one run by `npm run bench`
 * (`node dist/bench/core.js`):
 *
 * 1. ed25519 signature verifications per second on tweetnacl
 *    (`verifySignatureTweetnacl`) and on the path the node uses
 *    (`verifySignature`: pre-checks + OpenSSL through node:crypto), and
 *    their ratio;
 * 2. block connect throughput, blocks and transactions per second, for
 *    blocks of 1, 100 and 1,000 transactions (coinbase included), doing what
 *    the chain actor does per block: `checkBlock` (proof of work, merkle root,
 *    every signature) + `connectTransactions` on an `AccountOverlay` over the
 *    store + `store.connectBlock` (one LMDB write transaction), into a fresh
 *    LMDB store in a temporary folder and, as a baseline, the in-memory store;
 *    then as a node with its verification threads does (the signatures of
 *    each run's blocks checked in the worker threads, started as the blocks
 *    arrive, while earlier blocks connect), with the ratio of its 1,000-
 *    transaction rate to the single-thread verification rate of part 1
 *    (target at least 1.6).
 *
 * Blocks are built and mined (regtest) before any timing starts; timings
 * cover only the per-block work above. The whole run takes well under a
 * minute on a 2-core machine.
 */
import { createHash, createPrivateKey, createPublicKey, sign as nodeSign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { blockTxIds, computeMerkleRoot, type Block, type BlockTxIds } from '../src/core/block.js';
import { keyPairFromSeed, verifySignature, verifySignatureTweetnacl } from '../src/core/ed25519.js';
import { toHex } from '../src/core/encoding.js';
import { genesisBlock, networkId } from '../src/core/genesis.js';
import { hashFromHex } from '../src/core/hash.js';
import { headerHashHex, type BlockHeader } from '../src/core/header.js';
import { BLOCK_VERSION, NETWORKS, blockReward } from '../src/core/params.js';
import { workFromBits } from '../src/core/pow.js';
import { AccountOverlay, type Account, type AccountReader } from '../src/core/state.js';
import { signingBytes, type CoinbaseTx, type Transaction, type TransferTx } from '../src/core/transaction.js';
import { checkBlock, checkBlockStructure, checkProofOfWork, connectTransactions, transfersToVerify } from '../src/core/validation.js';
import type { BlockIndexEntry, BlockStore, StoreIdentity } from '../src/store/block-store.js';
import { LmdbBlockStore } from '../src/store/lmdb-store.js';
import { MemoryBlockStore } from '../src/store/memory-store.js';
import { SignaturePrefetch } from '../src/workers/signature-prefetch.js';
import { DEFAULT_VERIFY_THREADS, VerifyPool } from '../src/workers/verify-pool.js';

/** Wall-clock time spent measuring each verification path, ms. */
const SIGNATURE_BUDGET_MS = 3_000;
/** Distinct keys (and messages) the verification loop cycles through. */
const SIGNATURE_KEYS = 64;
/** Block sizes measured (transactions per block, coinbase included) and blocks connected of each. */
const CONNECT_RUNS = [
  { txsPerBlock: 1, blocks: 400 },
  { txsPerBlock: 100, blocks: 40 },
  { txsPerBlock: 1_000, blocks: 8 },
] as const;
/** The performance issue's target: 1,000-transfer blocks connected into LMDB per second, over the single-thread verify baseline. */
const TARGET_CONNECT_OVER_VERIFY = 1.6;
/** Funded accounts that send the transfers (each sends at most a few per block, as in a real mempool). */
const SENDERS = 500;
/** What the funding block gives each sender, base units. */
const SENDER_FUNDS = 1_000_000n;
/** Amount and fee of every benchmark transfer, base units. */
const TRANSFER_AMOUNT = 1_000n;
const TRANSFER_FEE = 10n;

const params = NETWORKS.regtest;
const id = networkId(params);

// ---------------------------------------------------------------------------
// Keys and signing (OpenSSL signs: RFC 8032 signatures are deterministic, so
// they are the bytes tweetnacl would make, only faster to produce)
// ---------------------------------------------------------------------------

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

interface BenchKey {
  publicKey: Uint8Array;
  private: KeyObject;
}

function benchSeed(n: number): Uint8Array {
  const seed = new Uint8Array(32);
  new DataView(seed.buffer).setUint32(0, n, true);
  seed[31] = 0xbe;
  return seed;
}

/** A deterministic key from a small number; the public key via OpenSSL (tweetnacl takes milliseconds per key). */
function benchKey(n: number): BenchKey {
  const seed = benchSeed(n);
  const priv = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(priv).export({ format: 'der', type: 'spki' });
  return { publicKey: Uint8Array.from(spki.subarray(spki.length - 32)), private: priv };
}

/** A fresh recipient account: any 32 bytes name an account, no key is needed to receive. */
function freshRecipient(n: number): Uint8Array {
  return Uint8Array.from(createHash('sha256').update(`cheesechain-bench-recipient-${n}`).digest());
}

function signedTransfer(from: BenchKey, to: Uint8Array, nonce: number, amount = TRANSFER_AMOUNT): TransferTx {
  const body = { sender: from.publicKey, recipient: to, amount, fee: TRANSFER_FEE, nonce };
  return { type: 'transfer', ...body, signature: new Uint8Array(nodeSign(null, signingBytes(id, body), from.private)) };
}

// ---------------------------------------------------------------------------
// 1. Signature verification
// ---------------------------------------------------------------------------

/** A measured loop: iterations, wall-clock ms and CPU ms of this process (user + system, all threads). */
interface Rate {
  count: number;
  ms: number;
  cpuMs: number;
  perSecond: number;
  /** Iterations per CPU second: what one core does when it is not shared. */
  perCpuSecond: number;
}

/** CPU time of this process so far, ms. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Calls `fn(i)` for i = 0, 1, … until `budgetMs` have passed; checks every result is true. */
function measure(budgetMs: number, fn: (i: number) => boolean): Rate {
  for (let i = 0; i < 20; i++) if (!fn(i)) throw new Error('benchmark: a valid signature was rejected');
  let count = 0;
  const cpuStart = cpuMs();
  const start = performance.now();
  let now = start;
  while (now - start < budgetMs) {
    for (let k = 0; k < 10; k++) if (!fn(count++)) throw new Error('benchmark: a valid signature was rejected');
    now = performance.now();
  }
  const cpu = cpuMs() - cpuStart;
  return { count, ms: now - start, cpuMs: cpu, perSecond: (count * 1000) / (now - start), perCpuSecond: (count * 1000) / cpu };
}

function benchSignatures(): { tweetnacl: Rate; node: Rate } {
  // The fast keys are the keys tweetnacl makes from the same seeds.
  for (const n of [1, 2, 3]) {
    if (toHex(benchKey(n).publicKey) !== toHex(keyPairFromSeed(benchSeed(n)).publicKey)) throw new Error('benchmark: OpenSSL and tweetnacl derive different keys');
  }
  const cases = Array.from({ length: SIGNATURE_KEYS }, (_, i) => {
    const key = benchKey(1_000_000 + i);
    const tx = signedTransfer(key, freshRecipient(1_000_000 + i), i);
    return { message: signingBytes(id, tx), signature: tx.signature, publicKey: tx.sender };
  });
  const tweetnacl = measure(SIGNATURE_BUDGET_MS, (i) => {
    const c = cases[i % SIGNATURE_KEYS]!;
    return verifySignatureTweetnacl(c.message, c.signature, c.publicKey);
  });
  const node = measure(SIGNATURE_BUDGET_MS, (i) => {
    const c = cases[i % SIGNATURE_KEYS]!;
    return verifySignature(c.message, c.signature, c.publicKey);
  });
  return { tweetnacl, node };
}

// ---------------------------------------------------------------------------
// 2. Block connect
// ---------------------------------------------------------------------------

/** One prepared block and its index entry. */
interface Prepared {
  block: Block;
  entry: BlockIndexEntry;
  /** The coinbase that matures when this block connects. */
  matured: CoinbaseTx | undefined;
}

/** Accounts as a plain map, to track nonces and balances while building. */
class AccountMap implements AccountReader {
  readonly map = new Map<string, Account>();
  getAccount(key: string): Account | undefined {
    return this.map.get(key);
  }
}

/**
 * Builds a valid regtest chain: block 1 pays the miner, block 2 funds the
 * senders, then the blocks of `CONNECT_RUNS` in order. Each block is mined (about two
 * hashes on regtest) and applied to a shadow state so that nonces and
 * balances stay right.
 */
function buildChain(): { setup: Prepared[]; runs: Prepared[][] } {
  const genesis = genesisBlock(params);
  let parent: BlockIndexEntry = { hash: headerHashHex(genesis.header), header: genesis.header, height: 0, chainWork: workFromBits(genesis.header.bits) };
  const state = new AccountMap();
  const nonces = new Map<string, number>();
  const senders = Array.from({ length: SENDERS }, (_, i) => benchKey(100 + i));
  const miner = benchKey(2);
  let recipientSeq = 0;
  /** Coinbases by height, for the one that matures in each block. */
  const coinbases: CoinbaseTx[] = [];

  const next = (transfers: TransferTx[]): Prepared => {
    const height = parent.height + 1;
    const matured = height - params.coinbaseMaturity >= 1 ? coinbases[height - params.coinbaseMaturity] : undefined;
    const fees = transfers.reduce((s, tx) => s + tx.fee, 0n);
    const coinbase: CoinbaseTx = { type: 'coinbase', recipient: miner.publicKey, amount: blockReward(params, height) + fees, height };
    const txs: Transaction[] = [coinbase, ...transfers];
    const header: BlockHeader = {
      version: BLOCK_VERSION,
      prevHash: hashFromHex(parent.hash),
      merkleRoot: computeMerkleRoot(txs),
      time: parent.header.time + params.blockTimeSeconds,
      bits: params.genesisBits,
      nonce: 0,
    };
    while (!checkProofOfWork(header, params).ok) header.nonce++;
    const block = { header, txs };
    const overlay = new AccountOverlay(state);
    const v = connectTransactions(block, height, overlay, params, matured);
    if (!v.ok) throw new Error(`benchmark chain: block ${height} invalid: ${v.code}: ${v.reason}`);
    coinbases[height] = coinbase;
    for (const [k, a] of overlay.changed) state.map.set(k, a);
    const entry: BlockIndexEntry = { hash: headerHashHex(header), header, height, chainWork: parent.chainWork + workFromBits(header.bits) };
    parent = entry;
    return { block, entry, matured };
  };
  const send = (from: BenchKey, to: Uint8Array, amount = TRANSFER_AMOUNT): TransferTx => {
    const key = toHex(from.publicKey);
    const nonce = nonces.get(key) ?? 0;
    nonces.set(key, nonce + 1);
    return signedTransfer(from, to, nonce, amount);
  };

  // Setup: block 1 pays the miner one reward (its coinbase applies last, so
  // it is spendable from block 2), block 2 moves part of it to every sender.
  const setup: Prepared[] = [next([])];
  if ((SENDER_FUNDS + TRANSFER_FEE) * BigInt(SENDERS) > blockReward(params, 1)) throw new Error('benchmark: the senders need more than one block reward');
  setup.push(next(senders.map((s) => send(miner, s.publicKey, SENDER_FUNDS))));

  const runs: Prepared[][] = [];
  let turn = 0;
  for (const run of CONNECT_RUNS) {
    const blocks: Prepared[] = [];
    for (let b = 0; b < run.blocks; b++) {
      const transfers: TransferTx[] = [];
      for (let i = 1; i < run.txsPerBlock; i++) {
        const from = senders[turn++ % SENDERS]!;
        // Half the transfers go to other senders, half to fresh accounts: a mix of updates and inserts.
        const to = i % 2 === 0 ? senders[(turn * 7) % SENDERS]!.publicKey : freshRecipient(recipientSeq++);
        transfers.push(send(from, to));
      }
      blocks.push(next(transfers));
    }
    runs.push(blocks);
  }
  return { setup, runs };
}

/** What the chain actor does to connect one block on top of the tip, every signature checked on this thread. */
async function connectOne(store: BlockStore, p: Prepared): Promise<void> {
  const structural = checkBlock(p.block, params, id);
  if (!structural.ok) throw new Error(`benchmark: checkBlock ${structural.code}: ${structural.reason}`);
  const overlay = new AccountOverlay(store);
  const v = connectTransactions(p.block, p.entry.height, overlay, params, p.matured);
  if (!v.ok) throw new Error(`benchmark: connectTransactions ${v.code}: ${v.reason}`);
  await store.connectBlock(p.entry, p.block, overlay.changed, overlay.previous);
}

/** A block's transfers and their txids, hashed once (the chain hands the ids along). */
function transfersOf(p: Prepared): { ids: BlockTxIds; indexes: number[]; txs: TransferTx[]; txids: string[] } {
  const ids = blockTxIds(p.block);
  const indexes = transfersToVerify(p.block, ids);
  return { ids, indexes, txs: indexes.map((i) => p.block.txs[i] as TransferTx), txids: indexes.map((i) => ids.ids[i]!) };
}

/**
 * What the chain actor does with a node's verifier: the structure and
 * amounts here, the signatures in the worker threads (taken from the checks
 * started when the block arrived, {@link SignaturePrefetch}), then the
 * transactions and the store.
 */
async function connectPooled(store: BlockStore, p: Prepared, verifier: SignaturePrefetch): Promise<void> {
  const { ids, txs, txids } = transfersOf(p);
  const structural = checkBlockStructure(p.block, params, ids);
  if (!structural.ok) throw new Error(`benchmark: checkBlockStructure ${structural.code}: ${structural.reason}`);
  if ((await verifier.verify(txs, txids)).includes(false)) throw new Error('benchmark: a valid signature was rejected');
  const overlay = new AccountOverlay(store);
  const v = connectTransactions(p.block, p.entry.height, overlay, params, p.matured);
  if (!v.ok) throw new Error(`benchmark: connectTransactions ${v.code}: ${v.reason}`);
  await store.connectBlock(p.entry, p.block, overlay.changed, overlay.previous, ids.ids);
}

interface ConnectResult {
  store: string;
  txsPerBlock: number;
  blocks: number;
  ms: number;
  cpuMs: number;
}

/**
 * Connects the chain into `store`, timing each run. With `verifier`, as a
 * node syncing: each run's blocks have arrived, their signatures start being
 * checked in the worker threads block by block (inside the timing), and the
 * blocks connect while later ones are still being checked.
 */
async function benchConnect(name: string, store: BlockStore, chain: { setup: Prepared[]; runs: Prepared[][] }, verifier?: SignaturePrefetch): Promise<ConnectResult[]> {
  const genesis = genesisBlock(params);
  const genesisEntry: BlockIndexEntry = { hash: headerHashHex(genesis.header), header: genesis.header, height: 0, chainWork: workFromBits(genesis.header.bits) };
  const identity: StoreIdentity = { network: params.name, networkId: genesisEntry.hash, genesis, genesisEntry };
  await store.open(identity);
  try {
    for (const p of chain.setup) await connectOne(store, p);
    const results: ConnectResult[] = [];
    for (let r = 0; r < CONNECT_RUNS.length; r++) {
      const blocks = chain.runs[r]!;
      const cpuStart = cpuMs();
      const start = performance.now();
      if (verifier) {
        for (const p of blocks) {
          const { txs, txids } = transfersOf(p);
          verifier.prefetch(txs, txids);
        }
        for (const p of blocks) await connectPooled(store, p, verifier);
      } else {
        for (const p of blocks) await connectOne(store, p);
      }
      results.push({ store: name, txsPerBlock: CONNECT_RUNS[r]!.txsPerBlock, blocks: blocks.length, ms: performance.now() - start, cpuMs: cpuMs() - cpuStart });
    }
    const tip = store.getTip();
    const last = chain.runs[chain.runs.length - 1]!;
    if (tip.hash !== last[last.length - 1]!.entry.hash) throw new Error(`benchmark: ${name} tip is not the last block`);
    return results;
  } finally {
    await store.close();
  }
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function table(headers: string[], rows: string[][], alignLeft = 1): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => '  ' + cells.map((c, i) => (i < alignLeft ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('   ');
  return [line(headers), '  ' + widths.map((w) => '-'.repeat(w)).join('   '), ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const started = performance.now();
  console.log(`cheesechain core benchmark — node ${process.versions.node}, OpenSSL ${process.versions.openssl}, ${availableParallelism()} CPUs, ${process.platform}/${process.arch}, load average ${loadavg()[0]!.toFixed(2)} at start`);
  console.log('');

  const sig = benchSignatures();
  console.log(`ed25519 verification (${SIGNATURE_KEYS} keys, ${signingBytes(id, { sender: new Uint8Array(32), recipient: new Uint8Array(32), amount: 0n, fee: 0n, nonce: 0 }).length}-byte transfer signing bytes, ${SIGNATURE_BUDGET_MS / 1000} s each)`);
  console.log(
    table(
      ['path', 'verifications', 'verifications/s', 'per CPU-s', 'CPU µs each'],
      [
        ['tweetnacl (verifySignatureTweetnacl)', fmt(sig.tweetnacl.count), fmt(sig.tweetnacl.perSecond), fmt(sig.tweetnacl.perCpuSecond), fmt(1e6 / sig.tweetnacl.perCpuSecond, 1)],
        ['node: pre-checks + OpenSSL (verifySignature)', fmt(sig.node.count), fmt(sig.node.perSecond), fmt(sig.node.perCpuSecond), fmt(1e6 / sig.node.perCpuSecond, 1)],
      ],
    ),
  );
  console.log(`  ratio node / tweetnacl: ${fmt(sig.node.perSecond / sig.tweetnacl.perSecond, 1)}× (wall clock), ${fmt(sig.node.perCpuSecond / sig.tweetnacl.perCpuSecond, 1)}× (CPU time)`);
  console.log('');

  const buildStart = performance.now();
  const chain = buildChain();
  const prepared = chain.runs.reduce((n, r) => n + r.length, 0);
  console.log(`block connect: checkBlock (signatures included) + connectTransactions on an AccountOverlay + store.connectBlock`);
  console.log(`  (the last rows: signatures in ${DEFAULT_VERIFY_THREADS} worker threads, each run's blocks checked as they arrive, while earlier ones connect)`);
  console.log(`  (${prepared} regtest blocks built and mined beforehand in ${fmt((performance.now() - buildStart) / 1000, 1)} s; ${SENDERS} funded senders; txs/block includes the coinbase)`);
  const dir = mkdtempSync(join(tmpdir(), 'cheesechain-bench-'));
  let results: ConnectResult[];
  let pooled: ConnectResult[] = [];
  try {
    results = [...(await benchConnect('LMDB', new LmdbBlockStore({ path: join(dir, 'store') }), chain)), ...(await benchConnect('memory', new MemoryBlockStore(), chain))];
    const verifier = new SignaturePrefetch(new VerifyPool({ networkId: id, threads: DEFAULT_VERIFY_THREADS }));
    try {
      pooled = await benchConnect(`LMDB, ${DEFAULT_VERIFY_THREADS} verify threads`, new LmdbBlockStore({ path: join(dir, 'pooled') }), chain, verifier);
    } finally {
      await verifier.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  results.push(...pooled);
  console.log(
    table(
      ['store', 'txs/block', 'blocks', 'seconds', 'blocks/s', 'txs/s', 'ms/block', 'blocks/CPU-s', 'txs/CPU-s'],
      results.map((r) => [
        r.store,
        fmt(r.txsPerBlock),
        fmt(r.blocks),
        fmt(r.ms / 1000, 2),
        fmt((r.blocks * 1000) / r.ms, 1),
        fmt((r.blocks * r.txsPerBlock * 1000) / r.ms),
        fmt(r.ms / r.blocks, 2),
        fmt((r.blocks * 1000) / r.cpuMs, 1),
        fmt((r.blocks * r.txsPerBlock * 1000) / r.cpuMs),
      ]),
    ),
  );
  const big = pooled.find((r) => r.txsPerBlock === 1_000);
  if (big) {
    const ratio = (big.blocks * big.txsPerBlock * 1000) / big.ms / sig.node.perSecond;
    console.log(
      `  1,000-transaction blocks into LMDB with the verify threads / single-thread verifySignature: ${fmt(ratio, 2)}× (target ≥ ${fmt(TARGET_CONNECT_OVER_VERIFY, 1)}×: ${ratio >= TARGET_CONNECT_OVER_VERIFY ? 'met' : 'NOT met'})`,
    );
  }
  console.log('  (per CPU-s: divided by the CPU time of this process instead of wall-clock time, so a shared machine distorts it less;');
  console.log('   LMDB writes and flushes on its own threads, which count as CPU time too, while waiting for the disk does not)');
  console.log('');
  console.log(`total ${fmt((performance.now() - started) / 1000, 1)} s`);
}

await main();
