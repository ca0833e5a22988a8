/**
 * Mempool benchmark, printed in one run by `npm run bench:mempool`
 * (`node dist/bench/mempool.js`):
 *
 * 1. admission cost per transfer (signature included, as a relayed transfer
 *    pays it) with the pool at 1k, 10k and 100k entries, and the ratio
 *    100k / 1k (target: within 1.5×);
 * 2. the same for a sender at depth 0 and at the per-sender limit, and for a
 *    garbage signature claiming a sender with a full chain (refused before
 *    any per-sender state);
 * 3. admission into a full pool of 100k, each one evicting the cheapest;
 * 4. template time at 100k entries (target: under 50 ms), against the time
 *    of one signature verification as a baseline of this machine.
 *
 * Times are CPU time of the process (`process.cpuUsage`), not wall time.
 * The pool is filled with one-transfer senders (the most heads a template
 * walks: the worst case for the old O(heads × picked) template). Keys and
 * signatures are made with Node's native ed25519 before any timing starts.
 */
import { generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { EventBus } from '../src/actors/events.js';
import { DEFAULT_DUST_LIMIT, DEFAULT_MIN_RELAY_FEE, MAX_PENDING_PER_SENDER, MempoolActor, type AddTxResult, type MempoolMsg } from '../src/actors/mempool.js';
import { Reply } from '../src/actors/runtime/actor.js';
import { verifySignature } from '../src/core/ed25519.js';
import { toHex } from '../src/core/encoding.js';
import { networkId } from '../src/core/genesis.js';
import { NETWORKS } from '../src/core/params.js';
import type { Account, AccountReader } from '../src/core/state.js';
import { signingBytes, type TransferTx } from '../src/core/transaction.js';

/** Pool sizes at which admission is measured. */
const SIZES = [1_000, 10_000, 100_000] as const;
/** Transfers admitted per measurement. */
const SAMPLE = 1_000;
/** Template builds timed at 100k (median reported). */
const TEMPLATE_RUNS = 7;

const params = NETWORKS.regtest;
const id = networkId(params);

interface Sender {
  key: KeyObject;
  publicKey: Uint8Array;
}

function newSender(): Sender {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  return { key: privateKey, publicKey: new Uint8Array(Buffer.from(jwk.x!, 'base64url')) };
}

const recipient = newSender().publicKey;

function sign(s: Sender, nonce: number, fee: bigint): TransferTx {
  const body = { sender: s.publicKey, recipient, amount: DEFAULT_DUST_LIMIT, fee, nonce };
  return { type: 'transfer', ...body, signature: new Uint8Array(nodeSign(null, signingBytes(id, body), s.key)) };
}

class State implements AccountReader {
  readonly accounts = new Map<string, Account>();
  getAccount(key: string): Account | undefined {
    return this.accounts.get(key);
  }
  fund(s: Sender): void {
    this.accounts.set(toHex(s.publicKey), { balance: 10n ** 12n, nonce: 0 });
  }
}

/** Fresh one-transfer senders, funded, each with one signed transfer. */
function batch(state: State, n: number, fee: (i: number) => bigint): TransferTx[] {
  const out: TransferTx[] = [];
  for (let i = 0; i < n; i++) {
    const s = newSender();
    state.fund(s);
    out.push(sign(s, 0, fee(i)));
  }
  return out;
}

function makePool(state: State, maxTransactions: number) {
  const m = new MempoolActor({ networkId: id, state, bus: new EventBus(), maxTransactions });
  const call = <R>(build: (reply: Reply<R>) => MempoolMsg): R => {
    let out: R | undefined;
    m.receive(build(new Reply<R>((v) => (out = v), (err) => { throw err; })));
    return out!;
  };
  return { m, add: (tx: TransferTx) => call<AddTxResult>((reply) => ({ type: 'mempool/add', tx, reply })), template: () => call<TransferTx[]>((reply) => ({ type: 'mempool/template', maxTxs: 1e9, maxBytes: 1e9, reply })) };
}

/** µs per transfer to admit `txs` (all must be accepted unless `expect` says otherwise). */
function timeAdmission(add: (tx: TransferTx) => AddTxResult, txs: TransferTx[], expect: boolean | string = true): number {
  const t0 = cpuMs();
  for (const tx of txs) {
    const r = add(tx);
    if (expect === true ? !r.accepted : r.accepted || r.code !== expect) throw new Error(`unexpected admission result ${JSON.stringify(r.accepted ? r : r.code)}`);
  }
  return ((cpuMs() - t0) * 1000) / txs.length;
}

const fmt = (x: number, digits = 1) => x.toFixed(digits);

/**
 * CPU time of this process, ms: the machine is shared, so wall time
 * measures the neighbours as much as the mempool.
 */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function main(): void {
  console.log(`mempool benchmark (node ${process.version}); preparing ${SIZES[SIZES.length - 1]! + SIZES.length * SAMPLE + 2 * SAMPLE} signed transfers…`);
  const state = new State();
  const fill = batch(state, SIZES[SIZES.length - 1]!, (i) => DEFAULT_MIN_RELAY_FEE + BigInt(i % 5_000));
  const samples = SIZES.map(() => batch(state, SAMPLE, (i) => DEFAULT_MIN_RELAY_FEE + BigInt(i % 5_000)));
  const rich = batch(state, SAMPLE, (i) => DEFAULT_MIN_RELAY_FEE + 10_000n + BigInt(i));

  // Baseline: one signature verification, the floor of any admission.
  const probe = samples[0]!.slice(0, 500);
  let t0 = cpuMs();
  for (const tx of probe) verifySignature(signingBytes(id, tx), tx.signature, tx.sender);
  const verifyUs = ((cpuMs() - t0) * 1000) / probe.length;

  const pool = makePool(state, 1_000_000);
  const perSize: number[] = [];
  let filled = 0;
  SIZES.forEach((size, k) => {
    // Fill up to `size` (the samples of earlier sizes are in already).
    while (pool.m.size < size) pool.add(fill[filled++]!);
    perSize.push(timeAdmission(pool.add, samples[k]!));
  });

  // Depth: one sender's chain from 0 to the limit, and a garbage signature on the full chain.
  const deep = newSender();
  state.fund(deep);
  const chain = Array.from({ length: MAX_PENDING_PER_SENDER }, (_, n) => sign(deep, n, DEFAULT_MIN_RELAY_FEE));
  const depthTimes = chain.map((tx) => timeAdmission(pool.add, [tx]));
  const garbage = Array.from({ length: SAMPLE }, (_, i) => ({ ...sign(deep, MAX_PENDING_PER_SENDER, DEFAULT_MIN_RELAY_FEE + BigInt(i)), signature: new Uint8Array(64).fill(i & 0xff) }));
  const garbageUs = timeAdmission(pool.add, garbage, 'bad-signature');

  // Template at the pool's size (≈ 100k + samples).
  const times: number[] = [];
  let picked = 0;
  for (let i = 0; i < TEMPLATE_RUNS; i++) {
    t0 = cpuMs();
    picked = pool.template().length;
    times.push(cpuMs() - t0);
  }
  times.sort((a, b) => a - b);
  const templateMs = times[Math.floor(times.length / 2)]!;

  // Eviction: a full pool of 100k, each admission evicting the cheapest last transfer.
  const full = makePool(state, SIZES[SIZES.length - 1]!);
  for (let i = 0; full.m.size < SIZES[SIZES.length - 1]!; i++) full.add(fill[i]!);
  const evictUs = timeAdmission(full.add, rich);

  console.log('\n| measure | µs per transfer | ratio |');
  console.log('| --- | --- | --- |');
  console.log(`| signature verification alone (baseline) | ${fmt(verifyUs)} | 1.00× |`);
  SIZES.forEach((size, k) => console.log(`| admission at ${size.toLocaleString('en')} entries | ${fmt(perSize[k]!)} | ${fmt(perSize[k]! / perSize[0]!, 2)}× of 1k, ${fmt(perSize[k]! / verifyUs, 2)}× verify |`));
  console.log(`| admission at depth 0 / ${MAX_PENDING_PER_SENDER - 1} of one sender | ${fmt(depthTimes[0]!)} / ${fmt(depthTimes[depthTimes.length - 1]!)} | ${fmt(depthTimes[depthTimes.length - 1]! / depthTimes[0]!, 2)}× (single samples) |`);
  console.log(`| garbage signature on a full sender chain (refused) | ${fmt(garbageUs)} | ${fmt(garbageUs / verifyUs, 2)}× verify |`);
  console.log(`| admission into a full pool of 100,000 (evicts one) | ${fmt(evictUs)} | ${fmt(evictUs / perSize[0]!, 2)}× of 1k |`);
  console.log(`\ntemplate over ${pool.m.size.toLocaleString('en')} entries (${picked} picked): ${fmt(templateMs, 2)} ms median of ${TEMPLATE_RUNS} (target < 50 ms)`);
  console.log(`admission 100k / 1k: ${fmt(perSize[perSize.length - 1]! / perSize[0]!, 2)}× (target ≤ 1.5×)`);
}

main();
