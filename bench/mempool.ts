/**
 * Mempool benchmark, printed in one run by `npm run bench:mempool`
 * (`node dist/bench/mempool.js`):
 *
 * 1. admission cost per transfer of a new sender (signature and key import
 *    included, as a relayed transfer pays them) with the pool at 1k, 10k
 *    and 100k entries, and the ratios to 1k (target: within 1.5×); three
 *    pools, measured in interleaved rounds so load drift hits every size;
 * 2. the same by a sender's depth, from 0 to the per-sender limit (40
 *    senders' chains, the same depth timed together), and for a garbage
 *    signature claiming a sender with a full chain (refused before any
 *    per-sender state);
 * 3. admission into a full pool of 100k, each one evicting the cheapest;
 * 4. template time at 100k entries (target: under 50 ms), against the time
 *    of one signature verification as a baseline of this machine.
 *
 * Times are CPU time of the process (`process.cpuUsage`), not wall time;
 * the load average is printed at the start and the end.
 * The pool is filled with one-transfer senders (the most heads a template
 * walks: the worst case for the old O(heads × picked) template). Keys and
 * signatures are made with Node's native ed25519 before any timing starts.
 */
import { createPrivateKey, generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
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
const TEMPLATE_RUNS = 15;
/** Interleaved rounds of the admission measurement (SAMPLE / ROUNDS transfers per pool per round). */
const ROUNDS = 10;

const params = NETWORKS.regtest;
const id = networkId(params);

interface Sender {
  key: KeyObject;
  publicKey: Uint8Array;
}

/**
 * A fresh key. The encodings come out of the key generation itself:
 * exporting a just-made key as JWK can deadlock Node 20 when a garbage
 * collection runs inside the export (the collected generation job locks the
 * key's mutex the export holds). The signing key is imported as a JWK: from
 * DER, OpenSSL 3's decoder takes about 8 times longer.
 */
function newSender(): Sender {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519', { privateKeyEncoding: { type: 'pkcs8', format: 'der' }, publicKeyEncoding: { type: 'spki', format: 'der' } });
  // PKCS#8 and SPKI DER of an ed25519 key end with the 32-byte seed and the 32-byte public key (RFC 8410).
  const d = privateKey.subarray(privateKey.length - 32).toString('base64url');
  const x = publicKey.subarray(publicKey.length - 32);
  return { key: createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d, x: x.toString('base64url') }, format: 'jwk' }), publicKey: new Uint8Array(x) };
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

/** Median of `xs` (sorted copy). */
function median(xs: readonly number[]): number {
  const a = [...xs].sort((x, y) => x - y);
  const m = Math.floor(a.length / 2);
  return a.length % 2 ? a[m]! : (a[m - 1]! + a[m]!) / 2;
}

function main(): void {
  const largest = SIZES[SIZES.length - 1]!;
  const depthSenders = SAMPLE / MAX_PENDING_PER_SENDER;
  console.log(`mempool benchmark (node ${process.version}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} on ${availableParallelism()} cores); preparing ${largest + (SIZES.length + 2) * SAMPLE + depthSenders * MAX_PENDING_PER_SENDER} signed transfers…`);
  const state = new State();
  const fill = batch(state, largest, (i) => DEFAULT_MIN_RELAY_FEE + BigInt(i % 5_000));
  const samples = SIZES.map(() => batch(state, SAMPLE, (i) => DEFAULT_MIN_RELAY_FEE + BigInt(i % 5_000)));
  const rich = batch(state, SAMPLE, (i) => DEFAULT_MIN_RELAY_FEE + 10_000n + BigInt(i));
  const probe = batch(state, SAMPLE, () => DEFAULT_MIN_RELAY_FEE);
  // Chains of senders for the depth measurement: the transfer at each depth, for many senders.
  const deep = Array.from({ length: depthSenders }, () => {
    const s = newSender();
    state.fund(s);
    return Array.from({ length: MAX_PENDING_PER_SENDER }, (_, n) => sign(s, n, DEFAULT_MIN_RELAY_FEE));
  });

  // One pool per size, filled with the same transfers; each admits its own fresh senders (so no
  // sender's key is already parsed), in interleaved rounds so that the machine's load drifts over
  // all sizes alike.
  const pools = SIZES.map((size) => {
    const p = makePool(state, 1_000_000);
    for (let i = 0; i < size; i++) p.add(fill[i]!);
    return p;
  });
  // The baseline, one signature verification of a new sender (its key imported), the floor of any
  // admission, is measured in the same rounds.
  const spent = SIZES.map(() => 0);
  let verifySpent = 0;
  const per = SAMPLE / ROUNDS;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = cpuMs();
    for (const tx of probe.slice(r * per, (r + 1) * per)) if (!verifySignature(signingBytes(id, tx), tx.signature, tx.sender)) throw new Error('probe signature failed');
    verifySpent += (cpuMs() - t0) * 1000;
    SIZES.forEach((_, k) => (spent[k]! += timeAdmission(pools[k]!.add, samples[k]!.slice(r * per, (r + 1) * per)) * per));
  }
  const verifyUs = verifySpent / SAMPLE;
  const perSize = spent.map((us) => us / SAMPLE);
  const big = pools[pools.length - 1]!;

  // Depth: each sender's chain from 0 to the limit, the same depth of all senders timed together.
  const depthUs = Array.from({ length: MAX_PENDING_PER_SENDER }, (_, n) => timeAdmission(big.add, deep.map((chain) => chain[n]!)));
  const garbage = deep.map((chain, i) => ({ ...chain[0]!, nonce: MAX_PENDING_PER_SENDER, signature: new Uint8Array(64).fill(i & 0xff) }));
  const garbageUs = timeAdmission(big.add, garbage, 'bad-signature');

  // Template at the pool's size (≈ 100k + samples).
  const times: number[] = [];
  let picked = 0;
  for (let i = 0; i < TEMPLATE_RUNS; i++) {
    const t0 = cpuMs();
    picked = big.template().length;
    times.push(cpuMs() - t0);
  }
  const templateMs = median(times);

  // Eviction: a full pool of 100k, each admission evicting the cheapest last transfer.
  pools.length = 0;
  const full = makePool(state, largest);
  for (let i = 0; full.m.size < largest; i++) full.add(fill[i]!);
  const evictUs = timeAdmission(full.add, rich);

  const head = depthUs.slice(0, 5);
  const tail = depthUs.slice(-5);
  console.log('\n| measure | µs per transfer | ratio |');
  console.log('| --- | --- | --- |');
  console.log(`| signature verification alone, new sender (baseline) | ${fmt(verifyUs)} | 1.00× |`);
  SIZES.forEach((size, k) => console.log(`| admission at ${size.toLocaleString('en')} entries | ${fmt(perSize[k]!)} | ${fmt(perSize[k]! / perSize[0]!, 2)}× of 1k, ${fmt(perSize[k]! / verifyUs, 2)}× verify |`));
  console.log(`| admission at depth 0–4 / ${MAX_PENDING_PER_SENDER - 5}–${MAX_PENDING_PER_SENDER - 1} of a sender (${depthSenders} senders, medians) | ${fmt(median(head))} / ${fmt(median(tail))} | ${fmt(median(tail) / median(head), 2)}× |`);
  console.log(`| garbage signature on a full sender chain (refused) | ${fmt(garbageUs)} | ${fmt(garbageUs / verifyUs, 2)}× verify |`);
  console.log(`| admission into a full pool of 100,000 (evicts one) | ${fmt(evictUs)} | ${fmt(evictUs / perSize[0]!, 2)}× of 1k |`);
  console.log(`\ntemplate over ${big.m.size.toLocaleString('en')} entries (${picked} picked): ${fmt(templateMs, 2)} ms CPU, median of ${TEMPLATE_RUNS} (min ${fmt(Math.min(...times), 2)}, max ${fmt(Math.max(...times), 2)}; target < 50 ms)`);
  console.log(`admission 10k / 1k: ${fmt(perSize[1]! / perSize[0]!, 2)}×, 100k / 1k: ${fmt(perSize[2]! / perSize[0]!, 2)}× (target ≤ 1.5×); depth ${MAX_PENDING_PER_SENDER - 1} / 0: ${fmt(median(tail) / median(head), 2)}×`);
  console.log(`load average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}

main();
