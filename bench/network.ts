/**
 * Network benchmarks, printed in one run by
 * `npm run bench:network` (`node dist/bench/network.js`), each beside its
 * target and a baseline measured in the same run:
 *
 * 1. Transaction intake: signed transfers accepted per second into one
 *    peer's mempool through PUSHTRANSACTION over loopback (a raw client
 *    pushes {@link INTAKE_TXS} transfers of {@link SENDERS} funded senders in
 *    frames of {@link PUSH_BATCH}; counted by the peer's `tx-accepted`
 *    events). Baselines over the same transfers, each in a fresh thread as
 *    the peer is: the mempool actor alone (`mempool/add-many` asks, no
 *    network) and `verifySignature` alone.
 *    Target: at least 1.6 times the verify baseline.
 * 2. Block propagation on a ten-peer loopback network where every peer has
 *    three connections (a Möbius ladder: a ring plus the five diagonals,
 *    diameter 3): time from a block of 1,000 transfers being submitted to one
 *    peer until the last peer has connected it, p50 and p99 over
 *    {@link PROPAGATION_BLOCKS} blocks, when the transfers are already in
 *    every mempool (the usual case: they were relayed first) and when they
 *    are not. Targets: p99 at most 100 ms (usual) and 400 ms (cold).
 * 3. Sync: blocks and transactions per second for a late joiner catching up
 *    {@link SYNC_BLOCKS} blocks of {@link SYNC_TXS_PER_BLOCK} transfers from a
 *    peer that has them, and {@link EMPTY_SYNC_BLOCKS} blocks with only a
 *    coinbase (the per-block cost alone), timed from its dial of that peer.
 *    Targets: transactions per second at least 1.5 times the verify baseline
 *    (when the intake benchmark ran), at least 5,000 empty blocks per second.
 * 4. Memory: the resident set (RSS) of one peer in a child process of its
 *    own: idle after start, with {@link MEMPOOL_TXS} transfers in its mempool
 *    (pushed over PUSHTRANSACTION; its mempool is configured to hold them),
 *    and while it syncs the chain of 3 (peak of samples every
 *    {@link MEMORY_SAMPLE_MS} ms). Targets: idle < 150 MB, with the full
 *    mempool < 400 MB.
 *
 * Every peer runs in its own worker thread (`bench/lib/peer-worker.ts`), as
 * if it were its own process: ten peers share the machine's cores, not one
 * event loop, nor any cache. Blocks and transfers are built, signed and mined
 * (regtest) before any timing starts. The machine is shared: the load
 * average and the CPU time this process used are printed beside each
 * wall-clock rate.
 *
 * Arguments pick benchmarks: `node dist/bench/network.js [--json] [intake]
 * [propagation] [sync] [memory]` (all four when none is given). With
 * `--json` the tables go to stderr and stdout gets one JSON object,
 * {@link NetworkBenchJson}, with every figure and the machine's load. With
 * `BENCH_TRACE=1` the propagation benchmark prints, for every block, when
 * each peer (p0 … p9) connected it, ms after the origin p0 began.
 */
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { blockToJson } from '../src/core/block.js';
import type { Account } from '../src/core/state.js';
import { DEFAULT_MIN_RELAY_FEE, MAX_PENDING_PER_SENDER } from '../src/core/policy.js';
import type { TransferTx } from '../src/core/transaction.js';
import { DATA_FILES } from '../src/node/data-dir.js';
import { LmdbBlockStore } from '../src/store/lmdb-store.js';
import { MAX_PUSH_TRANSACTIONS } from '../src/transport/limits.js';
import { encodeMessage, message } from '../src/transport/messages.js';
import { ChainBuilder, regtest, storeIdentity, type BuiltBlock, type KeyPair } from '../test/helpers/chain-builder.js';
import type { BaselineJob, BaselineResult } from './lib/baseline-worker.js';
import { benchKey, checkKeyDerivation } from './lib/keys.js';
import { RawClient, tempDir, withTimeout } from './lib/peers.js';
import { clock, fmt, percentile, startSpan, table, type Span } from './lib/stats.js';
import { WorkerPeer, type PeerMemory } from './lib/worker-peer.js';

/** Funded accounts that sign the intake and propagation transfers. */
const SENDERS = 1_000;
/** Transfers per propagation block (plus the coinbase): one per sender. */
const BLOCK_TRANSFERS = SENDERS;
/** Blocks timed in each propagation case (at least 20, so a p99 means something). */
const PROPAGATION_BLOCKS = 20;
/** Transfers pushed in the intake benchmark: those of the usual-case propagation blocks, 20 per sender. */
const INTAKE_TXS = PROPAGATION_BLOCKS * BLOCK_TRANSFERS;
/** Transfers per PUSHTRANSACTION frame of the intake benchmark. */
const PUSH_BATCH = 500;
/** What the funding block gives each sender, base units (two cases × 20 transfers of amount + fee fit). */
const SENDER_FUNDS = 1_000_000n;
/** Amount and fee of every benchmark transfer, base units: the fee is the mempool's default minimum relay fee, the amount above its dust limit. */
const TRANSFER_AMOUNT = 1_000n;
const TRANSFER_FEE = DEFAULT_MIN_RELAY_FEE;
/** Peers of the propagation network, and each one's connections. */
const NETWORK_PEERS = 10;
/** Wait after the last mempool received a block's transfers, for the tail of their inventory traffic to end before the block is timed, ms. */
const SETTLE_MS = 200;
/** Blocks of the sync benchmark and transfers in each (after the first, which funds the sender). */
const SYNC_BLOCKS = 2_000;
const SYNC_TXS_PER_BLOCK = 10;
/** Blocks of the empty-block sync: a coinbase each. */
const EMPTY_SYNC_BLOCKS = 5_000;
/**
 * Transfers in the mempool of the memory benchmark's peer: {@link MEMPOOL_TXS_PER_SENDER}
 * from each of {@link MEMPOOL_SENDERS} (the mempool holds at most
 * MAX_PENDING_PER_SENDER transfers of one sender).
 */
const MEMPOOL_TXS_PER_SENDER = MAX_PENDING_PER_SENDER;
const MEMPOOL_SENDERS = 4_000;
const MEMPOOL_TXS = MEMPOOL_SENDERS * MEMPOOL_TXS_PER_SENDER;
/** Interval of the RSS samples while the memory benchmark's peer syncs, ms. */
const MEMORY_SAMPLE_MS = 100;
/** Wait before reading the idle peer's RSS, after its start and setup blocks, ms. */
const IDLE_SETTLE_MS = 1_000;
/** Longest wait for any awaited event before the run fails, ms. */
const STEP_TIMEOUT_MS = 120_000;
/** Longest wait for a sync, or for the memory benchmark's mempool to fill, ms (minutes on a machine shared with much other work). */
const LONG_STEP_TIMEOUT_MS = 600_000;

/** The targets these figures are judged against. */
/** The performance issue's targets: intake and sync as ratios to the single-thread verify baseline of the same run. */
const TARGET_INTAKE_OVER_VERIFY = 1.6;
const TARGET_PROPAGATION_P99_MS = 100;
const TARGET_PROPAGATION_COLD_P99_MS = 400;
const TARGET_SYNC_TX_OVER_VERIFY = 1.5;
const TARGET_EMPTY_SYNC_PER_S = 5_000;
const TARGET_IDLE_RSS_MB = 150;
const TARGET_MEMPOOL_RSS_MB = 400;

// ---------------------------------------------------------------------------
// Chains
// ---------------------------------------------------------------------------

/** A fresh recipient account: any 32 bytes name an account, no key is needed to receive. */
function freshRecipient(n: number): Uint8Array {
  return Uint8Array.from(createHash('sha256').update(`cheesechain-bench-network-recipient-${n}`).digest());
}

/** The chain of the intake and propagation benchmarks. */
interface PropagationChain {
  /** Block 1 (pays the miner) and block 2 (funds every sender). */
  setup: BuiltBlock[];
  /** Blocks of one transfer per sender, whose transfers are relayed before the block (and are the intake transfers). */
  usual: BuiltBlock[];
  /** Blocks whose transfers no peer has seen. */
  cold: BuiltBlock[];
  /** Confirmed state after the setup blocks (the mempool baseline's state). */
  stateAfterSetup: Map<string, Account>;
}

function buildPropagationChain(): PropagationChain {
  const b = new ChainBuilder(regtest, { miner: benchKey(1) });
  const senders: KeyPair[] = Array.from({ length: SENDERS }, (_, i) => benchKey(1_000 + i));
  const setup = [b.next(), b.next(senders.map((s) => b.pay(b.miner, s, SENDER_FUNDS, TRANSFER_FEE)))];
  const stateAfterSetup = b.accounts();
  let recipient = 0;
  const block = (): BuiltBlock =>
    b.next(
      senders.map((s, i) => {
        // Half to other senders, half to new accounts: a mix of updates and inserts.
        const to = i % 2 === 0 ? senders[(i * 7 + recipient) % SENDERS]!.publicKey : freshRecipient(recipient);
        recipient++;
        return b.pay(s, to, TRANSFER_AMOUNT, TRANSFER_FEE);
      }),
    );
  const usual = Array.from({ length: PROPAGATION_BLOCKS }, block);
  const cold = Array.from({ length: PROPAGATION_BLOCKS }, block);
  return { setup, usual, cold, stateAfterSetup };
}

/** The sync chain: block 1 pays the miner, every later block carries its transfers to new accounts. */
function buildSyncChain(): BuiltBlock[] {
  const b = new ChainBuilder(regtest, { miner: benchKey(2) });
  let n = 1_000_000;
  return b.extend(SYNC_BLOCKS, (height) => (height === 1 ? [] : Array.from({ length: SYNC_TXS_PER_BLOCK }, () => b.pay(b.miner, freshRecipient(n++), TRANSFER_AMOUNT, TRANSFER_FEE))));
}

/** The empty-block sync chain: coinbases only. */
function buildEmptySyncChain(): BuiltBlock[] {
  return new ChainBuilder(regtest, { miner: benchKey(3) }).extend(EMPTY_SYNC_BLOCKS);
}

/** The memory benchmark's chain: the senders funded, and transfers in no block for the mempool. */
interface MemoryChain {
  setup: BuiltBlock[];
  mempool: TransferTx[];
}

function buildMemoryChain(): MemoryChain {
  const b = new ChainBuilder(regtest, { miner: benchKey(4) });
  const senders: KeyPair[] = Array.from({ length: MEMPOOL_SENDERS }, (_, i) => benchKey(1_000 + i));
  const setup = [b.next(), b.next(senders.map((s) => b.pay(b.miner, s, SENDER_FUNDS, TRANSFER_FEE)))];
  const mempool: TransferTx[] = [];
  for (let round = 0; round < MEMPOOL_TXS_PER_SENDER; round++) {
    for (let i = 0; i < MEMPOOL_SENDERS; i++) mempool.push(b.pay(senders[i]!, senders[(i + round + 1) % MEMPOOL_SENDERS]!.publicKey, TRANSFER_AMOUNT, TRANSFER_FEE));
  }
  return { setup, mempool };
}

const transfersOf = (blocks: BuiltBlock[]): TransferTx[] => blocks.flatMap((x) => x.block.txs.filter((tx): tx is TransferTx => tx.type === 'transfer'));

// ---------------------------------------------------------------------------
// 1. Transaction intake
// ---------------------------------------------------------------------------

type RateResult = BaselineResult;

const perSecond = (r: RateResult): number => (r.count * 1000) / r.span.wallMs;

/** Runs one intake baseline in a fresh worker thread (cold caches, as the peer under test has). */
function runBaseline(job: BaselineJob): Promise<RateResult> {
  const worker = new Worker(new URL('./lib/baseline-worker.js', import.meta.url), { workerData: job });
  return new Promise<BaselineResult>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`benchmark: the ${job.kind} baseline worker exited with code ${code}`)));
  }).finally(() => void worker.terminate());
}

/** One peer; a raw client pushes every transfer in PUSHTRANSACTION frames, encoded beforehand. */
async function benchIntake(chain: PropagationChain, txs: TransferTx[]): Promise<RateResult> {
  const peer = await WorkerPeer.start({ name: 'intake' });
  let client: RawClient | undefined;
  try {
    for (const x of chain.setup) await peer.submitBlock(blockToJson(x.block));
    client = await RawClient.connect(peer.listenPort, 'bench-client');
    const frames = pushFrames(txs);
    const done = peer.untilAccepted(txs.length);
    const stop = startSpan();
    const t0 = clock();
    for (const f of frames) await client.write(f);
    const at = await withTimeout(done, STEP_TIMEOUT_MS, `intake of ${txs.length} transfers`);
    const span = stop();
    return { count: txs.length, span: { wallMs: at - t0, cpuMs: span.cpuMs } };
  } finally {
    await client?.close();
    await peer.stop();
  }
}

// ---------------------------------------------------------------------------
// 2. Block propagation
// ---------------------------------------------------------------------------

/** Peer `i`'s outbound connections in the Möbius ladder: the next peer on the ring, and for the first half the opposite peer. */
function ladderDials(i: number, n: number): number[] {
  const out = [(i + 1) % n];
  if (i < n / 2) out.push(i + n / 2);
  return out;
}

interface PropagationSample {
  /** From the origin starting to handle the block until the last peer connected it, ms. */
  lastMs: number;
  /** The same for the median peer, ms. */
  medianMs: number;
  /** Until the origin itself had connected it (its own validation), ms. */
  originMs: number;
}

interface PropagationResult {
  usual: PropagationSample[];
  cold: PropagationSample[];
  /** Usual case: time for each block's 1,000 transfers, pushed to one peer, to reach every mempool, ms. */
  txRelayMs: number[];
  degrees: number[];
  usualSpan: Span;
  coldSpan: Span;
}

async function propagate(peers: WorkerPeer[], x: BuiltBlock): Promise<PropagationSample> {
  const hash = x.entry.hash;
  const arrivals = peers.map((p) => p.untilTip(hash));
  const { value } = await peers[0]!.submitBlock(blockToJson(x.block));
  if (value.result.status !== 'connected') throw new Error(`benchmark: origin refused block ${hash}: ${JSON.stringify(value.result)}`);
  const times = (await withTimeout(Promise.all(arrivals), STEP_TIMEOUT_MS, `block ${hash} reaching every peer`)).map((at) => at - value.startedAt);
  if (process.env.BENCH_TRACE) say(`  ${hash.slice(0, 12)}: ${times.map((t) => t.toFixed(0)).join(' ')}`);
  return { lastMs: Math.max(...times), medianMs: percentile(times, 50), originMs: times[0]! };
}

async function benchPropagation(chain: PropagationChain): Promise<PropagationResult> {
  const peers: WorkerPeer[] = [];
  let client: RawClient | undefined;
  try {
    for (let i = 0; i < NETWORK_PEERS; i++) peers.push(await WorkerPeer.start({ name: `p${i}`, maxOutbound: ladderDials(i, NETWORK_PEERS).length }));
    // Every peer gets its dial orders at once, before any ADDR could offer it another address to fill a slot with.
    await Promise.all(peers.flatMap((p, i) => ladderDials(i, NETWORK_PEERS).map((j) => p.connect(peers[j]!.listenPort))));
    await withTimeout(Promise.all(peers.map((p) => p.untilPeers(3))), STEP_TIMEOUT_MS, 'the ten-peer network connecting');
    const links = await Promise.all(peers.map((p) => p.peerIds()));
    for (let i = 0; i < NETWORK_PEERS; i++) {
      const expected = peers.filter((_, j) => ladderDials(i, NETWORK_PEERS).includes(j) || ladderDials(j, NETWORK_PEERS).includes(i)).map((p) => p.name);
      if (links[i]!.length !== expected.length || !expected.every((id) => links[i]!.includes(id))) {
        throw new Error(`benchmark: ${peers[i]!.name} is connected to ${links[i]!.join(', ')}, not to ${expected.join(', ')}`);
      }
    }
    const degrees = links.map((l) => l.length);

    for (const x of chain.setup) await propagate(peers, x);

    client = await RawClient.connect(peers[0]!.listenPort, 'bench-client');
    const usual: PropagationSample[] = [];
    const txRelayMs: number[] = [];
    const usualStop = startSpan();
    for (let k = 0; k < chain.usual.length; k++) {
      const x = chain.usual[k]!;
      const frame = encodeMessage(message('PUSHTRANSACTION', { transactions: transfersOf([x]) }));
      const filled = peers.map((p) => p.untilAccepted((k + 1) * BLOCK_TRANSFERS));
      const t0 = clock();
      await client.write(frame);
      const at = await withTimeout(Promise.all(filled), STEP_TIMEOUT_MS, `the transfers of block ${k} reaching every mempool`);
      txRelayMs.push(Math.max(...at) - t0);
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      usual.push(await propagate(peers, x));
    }
    const usualSpan = usualStop();

    const cold: PropagationSample[] = [];
    const coldStop = startSpan();
    for (const x of chain.cold) cold.push(await propagate(peers, x));
    const coldSpan = coldStop();
    return { usual, cold, txRelayMs, degrees, usualSpan, coldSpan };
  } finally {
    await client?.close();
    await Promise.all(peers.map((p) => p.stop()));
  }
}

// ---------------------------------------------------------------------------
// 3. Sync
// ---------------------------------------------------------------------------

interface SyncResult {
  blocks: number;
  txs: number;
  span: Span;
}

/** Writes the chain into an LMDB store in a new data folder, as the seeding peer's own store. */
async function seedDataDir(blocks: BuiltBlock[]): Promise<string> {
  const dir = tempDir('seed');
  const store = new LmdbBlockStore({ path: join(dir, DATA_FILES.chain) });
  await store.open(storeIdentity(regtest));
  try {
    for (const x of blocks) await store.connectBlock(x.entry, x.block, x.changes, x.undo);
  } finally {
    await store.close();
  }
  return dir;
}

async function benchSync(blocks: BuiltBlock[]): Promise<SyncResult> {
  const dir = await seedDataDir(blocks);
  let seed: WorkerPeer | undefined;
  let late: WorkerPeer | undefined;
  try {
    seed = await WorkerPeer.start({ name: 'seed', dir });
    const tip = blocks[blocks.length - 1]!.entry.hash;
    // Timed from the dial, not from the late joiner's start: its thread's start-up (modules, keys, store) is no part of syncing.
    late = await WorkerPeer.start({ name: 'late' });
    const stop = startSpan();
    const t0 = clock();
    await late.connect(seed.listenPort);
    const at = await withTimeout(late.untilTip(tip), LONG_STEP_TIMEOUT_MS, `the late joiner syncing ${blocks.length} blocks`);
    const span = stop();
    return { blocks: blocks.length, txs: blocks.reduce((n, x) => n + x.block.txs.length, 0), span: { wallMs: at - t0, cpuMs: span.cpuMs } };
  } finally {
    await late?.stop();
    await seed?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// 4. Memory
// ---------------------------------------------------------------------------

interface MemoryResult {
  idle: PeerMemory;
  mempool: PeerMemory;
  mempoolTxs: number;
  /** Largest sample while syncing, and the sample after the sync finished. */
  syncPeak: PeerMemory;
  syncAfter: PeerMemory;
  syncBlocks: number;
  syncSamples: number;
}

/** PUSHTRANSACTION frames of {@link PUSH_BATCH} transfers. */
function pushFrames(txs: TransferTx[]): Buffer[] {
  if (PUSH_BATCH > MAX_PUSH_TRANSACTIONS) throw new Error('benchmark: PUSH_BATCH exceeds MAX_PUSH_TRANSACTIONS');
  const frames: Buffer[] = [];
  for (let i = 0; i < txs.length; i += PUSH_BATCH) frames.push(encodeMessage(message('PUSHTRANSACTION', { transactions: txs.slice(i, i + PUSH_BATCH) })));
  return frames;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One peer in its own process: RSS idle, then with the mempool full. */
async function benchMempoolMemory(mem: MemoryChain): Promise<Pick<MemoryResult, 'idle' | 'mempool' | 'mempoolTxs'>> {
  const peer = await WorkerPeer.startProcess({ name: 'memory', overrides: { mempool: { maxTransactions: mem.mempool.length } } });
  let client: RawClient | undefined;
  try {
    for (const x of mem.setup) await peer.submitBlock(blockToJson(x.block));
    await sleep(IDLE_SETTLE_MS);
    const idle = await peer.memory();
    const frames = pushFrames(mem.mempool);
    client = await RawClient.connect(peer.listenPort, 'bench-client');
    const done = peer.untilAccepted(mem.mempool.length);
    for (const f of frames) await client.write(f);
    await withTimeout(done, LONG_STEP_TIMEOUT_MS, `${mem.mempool.length} transfers entering the memory peer's mempool`);
    const mempool = await peer.memory();
    return { idle, mempool, mempoolTxs: mem.mempool.length };
  } finally {
    await client?.close();
    await peer.stop();
  }
}

/** A late joiner in its own process syncing `blocks` from a seed peer: RSS sampled while it syncs. */
async function benchSyncMemory(blocks: BuiltBlock[]): Promise<Pick<MemoryResult, 'syncPeak' | 'syncAfter' | 'syncBlocks' | 'syncSamples'>> {
  const dir = await seedDataDir(blocks);
  let seed: WorkerPeer | undefined;
  let late: WorkerPeer | undefined;
  try {
    seed = await WorkerPeer.start({ name: 'seed', dir });
    late = await WorkerPeer.startProcess({ name: 'late', peers: [seed.listenPort] });
    const tip = blocks[blocks.length - 1]!.entry.hash;
    let synced = false;
    const done = withTimeout(late.untilTip(tip), LONG_STEP_TIMEOUT_MS, `the memory peer syncing ${blocks.length} blocks`).finally(() => (synced = true));
    let peak = await late.memory();
    let samples = 1;
    while (!synced) {
      await Promise.race([sleep(MEMORY_SAMPLE_MS), done]);
      const m = await late.memory();
      samples++;
      if (m.rssBytes > peak.rssBytes) peak = m;
    }
    await done;
    return { syncPeak: peak, syncAfter: await late.memory(), syncBlocks: blocks.length, syncSamples: samples };
  } finally {
    await late?.stop();
    await seed?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

/** The `--json` output: every figure of the run, null for a benchmark not selected. Rates per second, times ms, memory MB (2^20 bytes). */
export interface NetworkBenchJson {
  machine: { node: string; cpus: number; platform: string; arch: string; loadAverage: { start: number[]; end: number[] } };
  intake: {
    transfers: number;
    txPerSecond: number;
    verifyBaselinePerSecond: number;
    mempoolBaselinePerSecond: number;
    /** txPerSecond / verifyBaselinePerSecond. */
    overVerifyBaseline: number;
    coresBusy: number;
    loadAverage: number;
  } | null;
  propagation: {
    peers: number;
    blockTransfers: number;
    usual: { blocks: number; p50Ms: number; p99Ms: number; maxMs: number; coresBusy: number };
    cold: { blocks: number; p50Ms: number; p99Ms: number; maxMs: number; coresBusy: number };
    /** Usual case: the block's transfers reaching every mempool beforehand. */
    txRelay: { p50Ms: number; p99Ms: number };
    loadAverage: number;
  } | null;
  sync: {
    blocks: number;
    txs: number;
    blocksPerSecond: number;
    txPerSecond: number;
    coresBusy: number;
    /** txPerSecond / the intake benchmark's verify baseline, when it ran. */
    txOverVerifyBaseline: number | null;
    emptyBlocks: number;
    emptyBlocksPerSecond: number;
    emptyCoresBusy: number;
    loadAverage: number;
  } | null;
  memory: {
    idleRssMb: number;
    mempool100kRssMb: number;
    mempoolTxs: number;
    idleHeapUsedMb: number;
    mempoolHeapUsedMb: number;
    syncPeakRssMb: number;
    syncAfterRssMb: number;
    syncBlocks: number;
    loadAverage: number;
  } | null;
  durationMs: number;
}

/** With `--json` the human-readable lines go to stderr, keeping stdout for the one JSON object. */
let humanOut: NodeJS.WriteStream = process.stdout;
const say = (line = ''): void => void humanOut.write(`${line}\n`);
const mb = (bytes: number): number => bytes / 2 ** 20;
const load1 = (): number => loadavg()[0]!;

const load = (): string => loadavg()[0]!.toFixed(2);
const seconds = (ms: number): string => fmt(ms / 1000, 2);
/** CPU cores this process kept busy over a span (all its threads). */
const cores = (s: Span): string => fmt(s.cpuMs / s.wallMs, 2);
const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT met');

const BENCHMARKS = ['intake', 'propagation', 'sync', 'memory'] as const;
type BenchmarkName = (typeof BENCHMARKS)[number];

/** The benchmarks named on the command line, all when none is. @throws Error naming an unknown one. */
function selected(argv: string[]): Set<BenchmarkName> {
  for (const a of argv) if (!(BENCHMARKS as readonly string[]).includes(a)) throw new Error(`unknown benchmark ${JSON.stringify(a)}; expected some of ${BENCHMARKS.join(', ')}`);
  return new Set(argv.length === 0 ? BENCHMARKS : (argv as BenchmarkName[]));
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadAtStart = loadavg();
  const { values, positionals } = parseArgs({ options: { json: { type: 'boolean', default: false } }, allowPositionals: true });
  const run = selected(positionals);
  if (values.json) humanOut = process.stderr;
  say(`cheesechain network benchmark — node ${process.versions.node}, ${availableParallelism()} CPUs, ${process.platform}/${process.arch}, load average ${load()} at start`);
  checkKeyDerivation();

  const buildStop = startSpan();
  const chain = run.has('intake') || run.has('propagation') ? buildPropagationChain() : undefined;
  const syncChain = run.has('sync') || run.has('memory') ? buildSyncChain() : [];
  const emptyChain = run.has('sync') ? buildEmptySyncChain() : [];
  const memoryChain = run.has('memory') ? buildMemoryChain() : undefined;
  const built: string[] = [];
  if (chain) built.push(`${SENDERS} funded senders, ${2 * PROPAGATION_BLOCKS} blocks of ${BLOCK_TRANSFERS} transfers`);
  if (syncChain.length > 0) built.push(`a ${SYNC_BLOCKS}-block sync chain (${SYNC_TXS_PER_BLOCK} transfers per block)`);
  if (emptyChain.length > 0) built.push(`${EMPTY_SYNC_BLOCKS} empty blocks`);
  if (memoryChain) built.push(`${MEMPOOL_TXS} transfers for a mempool`);
  say(`built beforehand in ${seconds(buildStop().wallMs)} s: ${built.join(', ')}`);
  say('');

  const intake = chain && run.has('intake') ? await reportIntake(chain, transfersOf(chain.usual)) : null;
  const propagation = chain && run.has('propagation') ? await reportPropagation(chain) : null;
  const sync = run.has('sync') ? await reportSync(syncChain, emptyChain, intake?.verifyBaselinePerSecond ?? null) : null;
  const memory = memoryChain ? await reportMemory(memoryChain, syncChain) : null;
  const durationMs = performance.now() - started;
  say(`total ${seconds(durationMs)} s`);
  if (values.json) {
    const result: NetworkBenchJson = {
      machine: { node: process.versions.node, cpus: availableParallelism(), platform: process.platform, arch: process.arch, loadAverage: { start: loadAtStart, end: loadavg() } },
      intake,
      propagation,
      sync,
      memory,
      durationMs,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }
}

async function reportIntake(chain: PropagationChain, intakeTxs: TransferTx[]): Promise<NetworkBenchJson['intake']> {
  const verify = await runBaseline({ kind: 'verify', txs: intakeTxs, state: new Map(), batch: PUSH_BATCH });
  const mempool = await runBaseline({ kind: 'mempool', txs: intakeTxs, state: chain.stateAfterSetup, batch: PUSH_BATCH });
  const intake = await benchIntake(chain, intakeTxs);
  const intakeRate = perSecond(intake);
  const loadAverage = load1();
  say(`1. transaction intake: ${fmt(INTAKE_TXS)} signed transfers of ${SENDERS} senders into one peer's mempool (load average ${load()})`);
  say(
    table(
      ['path', 'transfers', 'seconds', 'transfers/s', 'CPU cores busy', 'target'],
      [
        ['verifySignature alone (signing bytes + pre-checks + OpenSSL)', fmt(verify.count), seconds(verify.span.wallMs), fmt(perSecond(verify)), cores(verify.span), ''],
        [`mempool actor alone (mempool/add-many asks of ${PUSH_BATCH})`, fmt(mempool.count), seconds(mempool.span.wallMs), fmt(perSecond(mempool)), cores(mempool.span), ''],
        [
          `PUSHTRANSACTION over loopback (frames of ${PUSH_BATCH}) → tx-accepted`,
          fmt(intake.count),
          seconds(intake.span.wallMs),
          fmt(intakeRate),
          cores(intake.span),
          `≥ ${fmt(TARGET_INTAKE_OVER_VERIFY, 1)}× verify: ${verdict(intakeRate / perSecond(verify) >= TARGET_INTAKE_OVER_VERIFY)}`,
        ],
      ],
    ),
  );
  say(`  intake / mempool alone: ${fmt(intakeRate / perSecond(mempool), 2)}×; intake / verifySignature alone: ${fmt(intakeRate / perSecond(verify), 2)}×`);
  say('');
  return {
    transfers: intake.count,
    txPerSecond: intakeRate,
    verifyBaselinePerSecond: perSecond(verify),
    mempoolBaselinePerSecond: perSecond(mempool),
    overVerifyBaseline: intakeRate / perSecond(verify),
    coresBusy: intake.span.cpuMs / intake.span.wallMs,
    loadAverage,
  };
}

async function reportPropagation(chain: PropagationChain): Promise<NetworkBenchJson['propagation']> {
  const prop = await benchPropagation(chain);
  const loadAverage = load1();
  say(`2. block propagation: ${NETWORK_PEERS} peers on loopback, each with ${prop.degrees.join('/')} connections (Möbius ladder, diameter 3), blocks of ${BLOCK_TRANSFERS} transfers + coinbase (load average ${load()})`);
  const row = (name: string, xs: PropagationSample[], span: Span, targetMs: number): string[] => {
    const last = xs.map((s) => s.lastMs);
    const p99 = percentile(last, 99);
    return [
      name,
      fmt(xs.length),
      fmt(percentile(xs.map((s) => s.originMs), 50), 1),
      fmt(percentile(xs.map((s) => s.medianMs), 50), 1),
      fmt(percentile(last, 50), 1),
      fmt(p99, 1),
      fmt(Math.max(...last), 1),
      cores(span),
      `p99 ≤ ${targetMs} ms: ${verdict(p99 <= targetMs)}`,
    ];
  };
  say(
    table(
      ['case', 'blocks', 'origin p50 ms', 'median peer p50 ms', 'every peer p50 ms', 'every peer p99 ms', 'max ms', 'CPU cores busy', 'target'],
      [row('transfers already in every mempool (usual)', prop.usual, prop.usualSpan, TARGET_PROPAGATION_P99_MS), row('transfers in no mempool', prop.cold, prop.coldSpan, TARGET_PROPAGATION_COLD_P99_MS)],
    ),
  );
  say(
    `  (usual case: each block's ${BLOCK_TRANSFERS} transfers, pushed to one peer, reached all ${NETWORK_PEERS} mempools in p50 ${fmt(percentile(prop.txRelayMs, 50))} ms, p99 ${fmt(percentile(prop.txRelayMs, 99))} ms)`,
  );
  say('');
  const summary = (xs: PropagationSample[], span: Span): { blocks: number; p50Ms: number; p99Ms: number; maxMs: number; coresBusy: number } => {
    const last = xs.map((s) => s.lastMs);
    return { blocks: xs.length, p50Ms: percentile(last, 50), p99Ms: percentile(last, 99), maxMs: Math.max(...last), coresBusy: span.cpuMs / span.wallMs };
  };
  return {
    peers: NETWORK_PEERS,
    blockTransfers: BLOCK_TRANSFERS,
    usual: summary(prop.usual, prop.usualSpan),
    cold: summary(prop.cold, prop.coldSpan),
    txRelay: { p50Ms: percentile(prop.txRelayMs, 50), p99Ms: percentile(prop.txRelayMs, 99) },
    loadAverage,
  };
}

async function reportSync(syncChain: BuiltBlock[], emptyChain: BuiltBlock[], verifyBaseline: number | null): Promise<NetworkBenchJson['sync']> {
  const sync = await benchSync(syncChain);
  const empty = await benchSync(emptyChain);
  const loadAverage = load1();
  const blocksPerSecond = (r: SyncResult): number => (r.blocks * 1000) / r.span.wallMs;
  const txPerSecond = (sync.txs * 1000) / sync.span.wallMs;
  say(`3. sync: a late joiner catching up from one peer (load average ${load()})`);
  say(
    table(
      ['chain', 'blocks', 'transactions', 'seconds', 'blocks/s', 'transactions/s', 'CPU cores busy', 'target'],
      [
        [`${SYNC_TXS_PER_BLOCK} transfers per block`, fmt(sync.blocks), fmt(sync.txs), seconds(sync.span.wallMs), fmt(blocksPerSecond(sync), 1), fmt(txPerSecond), cores(sync.span), ''],
        [
          'empty blocks (coinbase only)',
          fmt(empty.blocks),
          fmt(empty.txs),
          seconds(empty.span.wallMs),
          fmt(blocksPerSecond(empty), 1),
          fmt((empty.txs * 1000) / empty.span.wallMs),
          cores(empty.span),
          `≥ ${fmt(TARGET_EMPTY_SYNC_PER_S)} blocks/s: ${verdict(blocksPerSecond(empty) >= TARGET_EMPTY_SYNC_PER_S)}`,
        ],
      ],
    ),
  );
  if (verifyBaseline !== null) {
    const ratio = txPerSecond / verifyBaseline;
    say(`  sync transactions/s / verifySignature alone (intake baseline): ${fmt(ratio, 2)}× (target ≥ ${fmt(TARGET_SYNC_TX_OVER_VERIFY, 1)}×: ${verdict(ratio >= TARGET_SYNC_TX_OVER_VERIFY)})`);
  }
  say('');
  return {
    blocks: sync.blocks,
    txs: sync.txs,
    blocksPerSecond: blocksPerSecond(sync),
    txPerSecond,
    coresBusy: sync.span.cpuMs / sync.span.wallMs,
    txOverVerifyBaseline: verifyBaseline === null ? null : txPerSecond / verifyBaseline,
    emptyBlocks: empty.blocks,
    emptyBlocksPerSecond: blocksPerSecond(empty),
    emptyCoresBusy: empty.span.cpuMs / empty.span.wallMs,
    loadAverage,
  };
}

async function reportMemory(mem: MemoryChain, syncChain: BuiltBlock[]): Promise<NetworkBenchJson['memory']> {
  const pool = await benchMempoolMemory(mem);
  const sync = await benchSyncMemory(syncChain);
  const loadAverage = load1();
  say(`4. memory: resident set (RSS) of one peer in a child process of its own (load average ${load()})`);
  const row = (what: string, m: PeerMemory, target: string): string[] => [what, fmt(mb(m.rssBytes), 1), fmt(mb(m.heapUsedBytes), 1), fmt(mb(m.externalBytes), 1), target];
  say(
    table(
      ['state', 'RSS MB', 'JS heap used MB', 'external MB', 'target'],
      [
        row('idle (regtest, 2 blocks, mining off)', pool.idle, `< ${TARGET_IDLE_RSS_MB} MB: ${verdict(mb(pool.idle.rssBytes) < TARGET_IDLE_RSS_MB)}`),
        row(`${fmt(pool.mempoolTxs)} transfers in its mempool`, pool.mempool, `< ${TARGET_MEMPOOL_RSS_MB} MB: ${verdict(mb(pool.mempool.rssBytes) < TARGET_MEMPOOL_RSS_MB)}`),
        row(`syncing ${fmt(sync.syncBlocks)} blocks: peak of ${sync.syncSamples} samples`, sync.syncPeak, ''),
        row('after that sync', sync.syncAfter, ''),
      ],
    ),
  );
  say('');
  return {
    idleRssMb: mb(pool.idle.rssBytes),
    mempool100kRssMb: mb(pool.mempool.rssBytes),
    mempoolTxs: pool.mempoolTxs,
    idleHeapUsedMb: mb(pool.idle.heapUsedBytes),
    mempoolHeapUsedMb: mb(pool.mempool.heapUsedBytes),
    syncPeakRssMb: mb(sync.syncPeak.rssBytes),
    syncAfterRssMb: mb(sync.syncAfter.rssBytes),
    syncBlocks: sync.syncBlocks,
    loadAverage,
  };
}

await main();
