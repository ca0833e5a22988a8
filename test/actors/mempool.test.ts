import t from 'tap';
import { DEFAULT_DUST_LIMIT, DEFAULT_MIN_RELAY_FEE, MAX_PENDING_PER_SENDER, MempoolActor, type AddTxResult, type MempoolDeps, type MempoolMsg } from '../../src/actors/mempool.js';
import { IndexedHeap } from '../../src/actors/indexed-heap.js';
import { Reply } from '../../src/actors/runtime/actor.js';
import { EventBus, type NodeEvent } from '../../src/actors/events.js';
import { MAX_MONEY } from '../../src/core/params.js';
import type { Account, AccountReader } from '../../src/core/state.js';
import { txid, type TransferTx } from '../../src/core/transaction.js';
import { MemoryBlockStore } from '../../src/store/memory-store.js';
import { ChainBuilder, fastKey, keyFromSeed, keyHex, regtest, regtestId, storeIdentity, transfer, type KeyPair } from '../helpers/chain-builder.js';

const FEE = DEFAULT_MIN_RELAY_FEE;
const AMOUNT = DEFAULT_DUST_LIMIT;

/** Account state in a map, counting every read (how much per-sender state an admission touches). */
class CountingState implements AccountReader {
  readonly accounts = new Map<string, Account>();
  reads = 0;
  getAccount(key: string): Account | undefined {
    this.reads++;
    return this.accounts.get(key);
  }
  fund(k: KeyPair, balance: bigint, nonce = 0): void {
    this.accounts.set(keyHex(k), { balance, nonce });
  }
}

function pool(overrides: Partial<MempoolDeps> = {}, state: AccountReader = new CountingState()) {
  const bus = new EventBus((err) => {
    throw err;
  });
  const events: NodeEvent[] = [];
  bus.subscribe((e) => events.push(e));
  const m = new MempoolActor({ networkId: regtestId, state, bus, ...overrides });
  /** Runs one message through the actor and returns its reply (the actor answers synchronously). */
  function call<R>(build: (reply: Reply<R>) => MempoolMsg): R {
    let out: { v: R } | undefined;
    m.receive(build(new Reply<R>((v) => (out = { v }), (err) => { throw err; })));
    if (!out) throw new Error('no reply');
    return out.v;
  }
  const add = (tx: TransferTx) => call<AddTxResult>((reply) => ({ type: 'mempool/add', tx, reply }));
  const template = (maxTxs = 10_000) => call<TransferTx[]>((reply) => ({ type: 'mempool/template', maxTxs, maxBytes: 1e6, reply }));
  return { m, bus, events, call, add, template };
}

t.test('the defaults refuse zero fees and dust: a minimum relay fee above zero and a dust limit, both policy', async (t) => {
  t.ok(DEFAULT_MIN_RELAY_FEE > 0n, 'minimum relay fee > 0');
  t.ok(DEFAULT_DUST_LIMIT > DEFAULT_MIN_RELAY_FEE, 'dust limit above the fee');
  const state = new CountingState();
  const alice = fastKey();
  state.fund(alice, 10n ** 9n);
  const p = pool({}, state);
  t.match(p.add(transfer(regtest, alice, fastKey(), AMOUNT, 0, 0n)), { accepted: false, code: 'fee-too-low' });
  t.match(p.add(transfer(regtest, alice, fastKey(), AMOUNT, 0, FEE - 1n)), { accepted: false, code: 'fee-too-low' });
  t.match(p.add(transfer(regtest, alice, fastKey(), AMOUNT - 1n, 0, FEE)), { accepted: false, code: 'dust' });
  t.equal(state.reads, 0, 'policy refusals read no account');
  t.match(p.add(transfer(regtest, alice, fastKey(), AMOUNT, 0, FEE)), { accepted: true });
});

t.test('every refusal but already-known is published as tx-rejected with its code and source', async (t) => {
  const state = new CountingState();
  const alice = fastKey();
  state.fund(alice, 10n ** 9n);
  const p = pool({}, state);
  const ok = transfer(regtest, alice, fastKey(), AMOUNT, 0, FEE);
  t.match(p.add(ok), { accepted: true });
  t.match(p.add(ok), { accepted: false, code: 'already-known' });
  const gap = transfer(regtest, alice, fastKey(), AMOUNT, 5, FEE);
  const r = p.call<AddTxResult>((reply) => ({ type: 'mempool/add', tx: gap, source: 'peer-x', reply }));
  t.match(r, { accepted: false, code: 'nonce-gap' });
  const rejected = p.events.filter((e) => e.type === 'tx-rejected');
  t.same(rejected, [{ type: 'tx-rejected', txid: txid(gap), code: 'nonce-gap', reason: (r as { reason: string }).reason, source: 'peer-x' }], 'one event, for the gap; none for the duplicate');
});

t.test('a long single-sender chain is cut at the per-sender limit with a typed refusal; per-transfer state reads stay flat', async (t) => {
  const state = new CountingState();
  const alice = fastKey();
  const bob = fastKey();
  state.fund(alice, 10n ** 12n);
  const p = pool({}, state);
  const reads: number[] = [];
  for (let n = 0; n < MAX_PENDING_PER_SENDER; n++) {
    const before = state.reads;
    t.equal(p.add(transfer(regtest, alice, bob, AMOUNT, n, FEE)).accepted, true);
    reads.push(state.reads - before);
  }
  t.equal(Math.max(...reads), Math.min(...reads), `state reads per admission do not grow with depth (${reads[0]} at depth 0, ${reads[reads.length - 1]} at depth ${MAX_PENDING_PER_SENDER - 1})`);
  const over = p.add(transfer(regtest, alice, bob, AMOUNT, MAX_PENDING_PER_SENDER, FEE));
  t.match(over, { accepted: false, code: 'too-many-pending' });
  t.equal(p.m.size, MAX_PENDING_PER_SENDER);
  t.equal(p.call<number>((reply) => ({ type: 'mempool/pending-nonce', key: keyHex(alice), reply })), MAX_PENDING_PER_SENDER);
});

t.test('a garbage signature is refused before any per-sender state is read, however long the sender\'s chain', async (t) => {
  const state = new CountingState();
  const alice = fastKey();
  state.fund(alice, 10n ** 12n);
  const p = pool({}, state);
  for (let n = 0; n < MAX_PENDING_PER_SENDER - 1; n++) p.add(transfer(regtest, alice, fastKey(), AMOUNT, n, FEE));
  const good = transfer(regtest, alice, fastKey(), AMOUNT, MAX_PENDING_PER_SENDER - 1, FEE);
  const garbage: TransferTx = { ...good, signature: new Uint8Array(64).fill(7) };
  const before = state.reads;
  t.match(p.add(garbage), { accepted: false, code: 'bad-signature' });
  t.equal(state.reads, before, 'no account was read');
});

t.test('admission reads the same state at 1k and at 4k entries', async (t) => {
  const state = new CountingState();
  const p = pool({ maxTransactions: 100_000 }, state);
  const perAdmission = (): number => {
    const k = fastKey();
    state.fund(k, 10n ** 9n);
    const before = state.reads;
    t.equal(p.add(transfer(regtest, k, fastKey(), AMOUNT, 0, FEE)).accepted, true);
    return state.reads - before;
  };
  const fill = (n: number) => {
    const sender = fastKey();
    state.fund(sender, 10n ** 15n);
    // Many senders: each fills up to the limit.
    let s = sender;
    let nonce = 0;
    while (p.m.size < n) {
      if (nonce === MAX_PENDING_PER_SENDER) {
        s = fastKey();
        state.fund(s, 10n ** 15n);
        nonce = 0;
      }
      p.add(transfer(regtest, s, fastKey(), AMOUNT, nonce++, FEE + BigInt(p.m.size % 97)));
    }
  };
  fill(1_000);
  const at1k = perAdmission();
  fill(4_000);
  const at4k = perAdmission();
  t.equal(at4k, at1k, `${at1k} reads per admission at 1k and at 4k (the benchmark measures 100k)`);
});

t.test('a full pool evicts the cheapest last transfer of a sender, never leaving a gap', async (t) => {
  const state = new CountingState();
  const [a, b, c] = [fastKey(), fastKey(), fastKey()];
  for (const k of [a, b, c]) state.fund(k, 10n ** 9n);
  const p = pool({ maxTransactions: 3 }, state);
  const a0 = transfer(regtest, a, c, AMOUNT, 0, FEE + 50n);
  const a1 = transfer(regtest, a, c, AMOUNT, 1, FEE + 1n);
  const b0 = transfer(regtest, b, c, AMOUNT, 0, FEE + 10n);
  for (const tx of [a0, a1, b0]) t.equal(p.add(tx).accepted, true);
  t.match(p.add(transfer(regtest, c, a, AMOUNT, 0, FEE)), { accepted: false, code: 'mempool-full' }, 'a fee no higher than the cheapest is refused');
  t.match(p.add(transfer(regtest, a, c, AMOUNT, 2, FEE + 99n)), { accepted: false, code: 'mempool-full' }, 'the cheapest is the sender\'s own: refused');
  const c0 = transfer(regtest, c, a, AMOUNT, 0, FEE + 5n);
  t.match(p.add(c0), { accepted: true });
  t.ok(p.events.some((e) => e.type === 'tx-evicted' && e.txid === txid(a1) && e.reason === 'mempool-full'), 'a1 (the cheapest last transfer) left');
  t.same(p.template().map(txid), [a0, b0, c0].map(txid));
});

t.test('the template is the fee-greedy order with nonces in order, as a brute-force reference computes it', async (t) => {
  const state = new CountingState();
  const p = pool({ maxTransactions: 10_000 }, state);
  const senders = Array.from({ length: 30 }, (_, i) => keyFromSeed(1000 + i));
  let rnd = 12345;
  const random = () => (rnd = (rnd * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (const s of senders) {
    state.fund(s, 10n ** 12n);
    const n = 1 + Math.floor(random() * 8);
    for (let i = 0; i < n; i++) t.equal(p.add(transfer(regtest, s, senders[0]!, AMOUNT, i, FEE + BigInt(Math.floor(random() * 1000)))).accepted, true);
  }
  const all = p.template();
  // Reference: repeatedly take the best fee among each sender's next transfer (ties: earlier arrival).
  const queues = new Map<string, TransferTx[]>();
  const arrival = new Map<string, number>();
  let i = 0;
  for (const tx of [...all].sort((x, y) => x.nonce - y.nonce)) {
    const k = keyHex(tx.sender);
    queues.set(k, [...(queues.get(k) ?? []), tx]);
  }
  for (const q of queues.values()) for (const tx of q) arrival.set(txid(tx), i++);
  t.equal(all.length, [...queues.values()].reduce((s, q) => s + q.length, 0), 'every pending transfer fits');
  const limited = p.template(40);
  t.equal(limited.length, 40);
  const expected: string[] = [];
  const cursor = new Map<string, number>();
  while (expected.length < 40) {
    let best: TransferTx | undefined;
    for (const [k, q] of queues) {
      const tx = q[cursor.get(k) ?? 0];
      if (tx && (!best || tx.fee > best.fee)) best = tx;
    }
    expected.push(txid(best!));
    const k = keyHex(best!.sender);
    cursor.set(k, (cursor.get(k) ?? 0) + 1);
  }
  const fees = (ids: string[]) => ids.map((id) => all.find((x) => txid(x) === id)!.fee);
  t.same(fees(limited.map(txid)), fees(expected), 'same fees picked in the same order');
  for (const [, q] of queues) {
    const positions = q.map((tx) => limited.findIndex((x) => txid(x) === txid(tx))).filter((x) => x >= 0);
    t.same(positions, [...positions].sort((x, y) => x - y), 'a sender\'s transfers keep nonce order');
  }
});

t.test('a transfer pending past the expiry leaves as `expired`, with its sender\'s later transfers', async (t) => {
  const state = new CountingState();
  const [a, b] = [fastKey(), fastKey()];
  state.fund(a, 10n ** 9n);
  state.fund(b, 10n ** 9n);
  let now = 1_000_000;
  const p = pool({ expiryMs: 60_000, now: () => now }, state);
  const a0 = transfer(regtest, a, b, AMOUNT, 0, FEE);
  t.equal(p.add(a0).accepted, true);
  now += 30_000;
  const a1 = transfer(regtest, a, b, AMOUNT, 1, FEE);
  const b0 = transfer(regtest, b, a, AMOUNT, 0, FEE);
  t.equal(p.add(a1).accepted, true);
  t.equal(p.add(b0).accepted, true);
  now += 30_001;
  const b1 = transfer(regtest, b, a, AMOUNT, 1, FEE);
  t.equal(p.add(b1).accepted, true, 'admission runs the expiry first');
  const expired = p.events.filter((e) => e.type === 'tx-evicted' && e.reason === 'expired').map((e) => (e as { txid: string }).txid);
  t.same(expired.sort(), [txid(a0), txid(a1)].sort(), 'a0 expired and a1 followed it');
  t.same(p.template().map(txid), [txid(b0), txid(b1)]);
});

t.test('the recipient-overflow check consensus makes: pending transfers may not take a recipient past MAX_MONEY', async (t) => {
  const state = new CountingState();
  const [a, b, rich] = [fastKey(), fastKey(), fastKey()];
  state.fund(a, 10n ** 9n);
  state.fund(b, 10n ** 9n);
  state.fund(rich, MAX_MONEY - 1_000n);
  const p = pool({}, state);
  t.equal(p.add(transfer(regtest, a, rich, 600n, 0, FEE)).accepted, true);
  t.match(p.add(transfer(regtest, b, rich, 600n, 0, FEE)), { accepted: false, code: 'balance-overflow' }, 'confirmed + pending + amount > MAX_MONEY');
});

t.test('transfers of a disconnected block come back within the per-sender limit; those the new branch confirmed do not', async (t) => {
  const store = new MemoryBlockStore();
  await store.open(storeIdentity(regtest));
  const b = new ChainBuilder(regtest);
  const alice = fastKey();
  const bob = fastKey();
  const p = pool({ maxPendingPerSender: 4 }, store);
  const connect = async (built: ReturnType<ChainBuilder['next']>) => {
    await store.connectBlock(built.entry, built.block, built.changes, built.undo);
    p.m.receive({ type: 'mempool/block-connected', block: built.block });
  };
  await connect(b.next());
  await connect(b.next([b.pay(b.miner, alice, 10n ** 8n, FEE)]));
  const sent = [0, 1, 2].map(() => b.pay(alice, bob, AMOUNT, FEE));
  t.equal(sent[0]!.nonce, 0);
  const block = b.next(sent);
  // Two more pending in the mempool on top of the block's three.
  await connect(block);
  for (const n of [3, 4]) t.equal(p.add(transfer(regtest, alice, bob, AMOUNT, n, FEE)).accepted, true, `nonce ${n} pending`);
  await store.disconnectTip();
  p.m.receive({ type: 'mempool/block-disconnected', block: block.block });
  const ids = p.template().map((tx) => tx.nonce);
  t.same(ids, [0, 1, 2, 3], 'the block\'s three are back first, in nonce order, and the limit of 4 cut the last');
  t.ok(p.events.some((e) => e.type === 'tx-evicted' && e.reason === 'invalid-after-reorg'), 'the cut one is reported');
});

t.test('IndexedHeap: removal anywhere keeps the order; the ordered walk reads the best items without changing the heap', async (t) => {
  interface Item { v: number; pos: number }
  const h = new IndexedHeap<Item>((a, b) => a.v < b.v, (x) => x.pos, (x, i) => (x.pos = i));
  const items = Array.from({ length: 500 }, (_, i) => ({ v: (i * 7919) % 1009, pos: -1 }));
  for (const x of items) h.push(x);
  for (const x of items.filter((_, i) => i % 3 === 0)) h.remove(x);
  const left = items.filter((_, i) => i % 3 !== 0).map((x) => x.v).sort((a, b) => a - b);
  t.same([...h.ordered()].map((x) => x.v), left, 'walk is sorted');
  t.equal(h.size, left.length, 'the walk did not pop');
  const first10: number[] = [];
  for (const x of h.ordered()) {
    first10.push(x.v);
    if (first10.length === 10) break;
  }
  t.same(first10, left.slice(0, 10));
  t.equal(h.peek()!.v, left[0]);
});
