/**
 * The gossip actor alone: stub chain and mempool refs answer its requests,
 * peer links record what it sends, a manual clock drives stalls, and the test
 * hands it each message (the same actor over real TCP between real peers is
 * tested in test/network).
 */
import t from 'tap';
import { blockHash, type Block } from '../../src/core/block.js';
import { ManualClock } from '../../src/core/clock.js';
import { genesisBlock } from '../../src/core/genesis.js';
import { hashToHex } from '../../src/core/hash.js';
import { NETWORKS } from '../../src/core/params.js';
import { txid } from '../../src/core/transaction.js';
import { EventBus } from '../../src/actors/events.js';
import { BLOCK_STALL_TIMEOUT_MS } from '../../src/actors/block-fetcher.js';
import type { ChainMsg, SubmitBlockResult } from '../../src/actors/chain.js';
import { GOSSIP_TICK_MS, GossipActor, type GossipMsg, type Offence, type PeerLink, type PeerManagerHooks } from '../../src/actors/gossip.js';
import type { AddTxResult, MempoolMsg } from '../../src/actors/mempool.js';
import { EncodedMessage, message, type AddrEntry, type Message, type MessageOf, type Method, type Outgoing } from '../../src/transport/messages.js';
import { MAX_LIST_OF_BLOCKS } from '../../src/transport/limits.js';
import { StubContext, StubRef } from '../helpers/actor-harness.js';
import { keyFromSeed, transfer } from '../helpers/chain-builder.js';

const params = NETWORKS.regtest;
const GENESIS: Block = genesisBlock(params);
const GENESIS_HASH = hashToHex(blockHash(GENESIS));
const LOCATOR = [GENESIS_HASH];
/** Hex hashes of blocks the test pretends exist. */
const h = (n: number): string => n.toString(16).padStart(64, '0');

/** A connected peer as the peer manager hands it to gossip: records what gossip sends it. */
class TestLink implements PeerLink {
  readonly sent: Message[] = [];
  readonly direction = 'outbound' as const;
  readonly host = '127.0.0.1';
  readonly port = 18330;
  readonly hello;
  constructor(
    readonly nodeId: string,
    chainWork = 0n,
  ) {
    // Each peer's own tip, a hash no other peer claims.
    const tip = Buffer.from(nodeId).toString('hex').padStart(64, '0');
    this.hello = { version: 1, network: h(0xabc), height: 0, tip, chainWork, time: 0, nodeId, port: this.port };
  }
  send(msg: Outgoing): void {
    // A frame encoded once for several peers is recorded as the message it carries.
    this.sent.push(msg instanceof EncodedMessage ? msg.message : msg);
  }
  /** The messages of one method sent so far. */
  of<M extends Method>(method: M): Array<MessageOf<M>> {
    return this.sent.filter((m): m is MessageOf<M> => m.method === method);
  }
  /** Block hashes requested with GETBLOCK. */
  get requested(): string[] {
    return this.of('GETBLOCK').map((m) => m.payload.hash);
  }
}

/** Records what gossip tells the peer manager. */
class Hooks implements PeerManagerHooks {
  readonly punished: Array<{ nodeId: string; offence: Offence }> = [];
  punish(nodeId: string, offence: Offence): void {
    this.punished.push({ nodeId, offence });
  }
}

/** A gossip actor over stub refs; the chain knows `known` blocks and has chain work 10. */
async function setup(known: string[] = [GENESIS_HASH]) {
  const clock = new ManualClock(1_000_000);
  const bus = new EventBus();
  const hooks = new Hooks();
  const have = new Set(known);
  const submitted: Array<{ hash: string; source: string | undefined }> = [];
  let submitResult: (hash: string) => SubmitBlockResult = (hash) => ({ status: 'connected', hash, height: 1 });
  const chain = new StubRef<ChainMsg>('chain', {
    'chain/get-tip': () => ({ hash: GENESIS_HASH, height: 0, chainWork: 10n }),
    'chain/get-locator': () => LOCATOR,
    'chain/has-block': (m) => have.has(m.hash),
    'chain/get-block': (m) => (m.hash === GENESIS_HASH ? { block: GENESIS, entry: { hash: GENESIS_HASH, height: 0, chainWork: 1n, header: GENESIS.header } as never, mainChain: true } : undefined),
    'chain/hashes-after': (m) => [h(m.limit)],
    'chain/submit-block': (m) => {
      const hash = hashToHex(blockHash(m.block));
      submitted.push({ hash, source: m.source });
      return submitResult(hash);
    },
    'chain/submit-blocks': (m) =>
      m.blocks.map(({ block }) => {
        const hash = hashToHex(blockHash(block));
        submitted.push({ hash, source: m.source });
        return submitResult(hash);
      }),
  });
  const mempool = new StubRef<MempoolMsg>('mempool', {
    'mempool/missing': (m) => m.txids.filter((id) => id.startsWith('new')),
    'mempool/get': () => undefined,
    'mempool/add-many': (m) => m.txs.map((tx): AddTxResult => ({ accepted: true, txid: txid(tx) })),
  });
  const actor = new GossipActor({ params: NETWORKS.regtest, chain, mempool, bus, hooks, clock });
  const ctx = new StubContext<GossipMsg>('gossip');
  await actor.start(ctx);
  const send = (msg: GossipMsg): Promise<void> => Promise.resolve(actor.receive(msg));
  const up = async (nodeId: string, chainWork = 0n): Promise<TestLink> => {
    const link = new TestLink(nodeId, chainWork);
    await send({ type: 'gossip/peer-up', link });
    return link;
  };
  const from = (nodeId: string, m: Message): Promise<void> => send({ type: 'gossip/message', nodeId, message: m });
  const tick = (): Promise<void> => send({ type: 'gossip/tick' });
  /** Hands the actor the chain's verdict it is waiting for (delivered to itself, as the cell would). */
  const handled = async (): Promise<void> => send(await ctx.next());
  return {
    clock, bus, hooks, chain, mempool, actor, ctx, send, up, from, tick, handled, have, submitted,
    setSubmitResult: (f: (hash: string) => SubmitBlockResult) => (submitResult = f),
  };
}

t.test('start: the housekeeping tick is a timer of the actor cell', async (t) => {
  const { ctx } = await setup();
  t.same(ctx.timers, [{ intervalMs: GOSSIP_TICK_MS, msg: { type: 'gossip/tick' } }]);
});

t.test('a peer with more chain work is asked for its block list with our locator; a lighter one is not', async (t) => {
  const { up } = await setup();
  const heavy = await up('heavy', 11n);
  t.same(heavy.sent, [message('GETLISTOFBLOCKS', { locator: LOCATOR, limit: MAX_LIST_OF_BLOCKS })]);
  const light = await up('light', 10n);
  t.same(light.sent, [], 'equal work: nothing to fetch');
});

t.test('announced blocks the chain lacks are requested from the announcer; known ones are not', async (t) => {
  const { up, from, have } = await setup();
  const a = await up('a');
  have.add(h(1));
  await from('a', message('BROADCASTBLOCK', { hashes: [h(1), h(2), h(3)], height: 3 }));
  t.same(a.requested, [h(2), h(3)]);
});

t.test('a block listed by a second peer while in flight is not requested twice', async (t) => {
  const { up, from } = await setup();
  const a = await up('a');
  const b = await up('b', 11n);
  await from('a', message('BROADCASTBLOCK', { hashes: [h(2)] }));
  await from('b', message('LISTOFBLOCKS', { hashes: [h(2)] }));
  t.same(a.requested, [h(2)]);
  t.same(b.requested, []);
});

t.test('a stalled request goes to another peer that has the block, on the tick after the timeout', async (t) => {
  const { up, from, tick, clock } = await setup();
  const slow = await up('slow');
  const fast = await up('fast');
  await from('slow', message('BROADCASTBLOCK', { hashes: [h(2)] }));
  await from('fast', message('BROADCASTBLOCK', { hashes: [h(2)] }));
  t.same(slow.requested, [h(2)]);
  clock.advance(BLOCK_STALL_TIMEOUT_MS - 1);
  await tick();
  t.same(fast.requested, [], 'not yet stalled');
  clock.advance(1);
  await tick();
  t.same(fast.requested, [h(2)]);
  t.same(slow.requested, [h(2)], 'the staller is not asked again');
});

t.test('a delivered block goes to the chain with its source; the next wanted block takes the freed slot', async (t) => {
  const { up, from, submitted } = await setup();
  const a = await up('a');
  await from('a', message('BLOCK', { block: GENESIS }));
  t.same(submitted, [{ hash: GENESIS_HASH, source: 'a' }]);
  t.same(a.sent, [], 'a connected block needs no answer');
});

t.test('an invalid block is handed to the peer manager as a typed offence; a policy refusal gets a REJECT and no punishment', async (t) => {
  const { up, from, hooks, handled, setSubmitResult } = await setup();
  const a = await up('a');
  setSubmitResult((hash) => ({ status: 'invalid', hash, code: 'bad-merkle-root', reason: 'merkle root mismatch' }));
  await from('a', message('BLOCK', { block: GENESIS }));
  await handled();
  t.same(a.of('REJECT'), [], 'the REJECT of a punished peer is the peer manager’s, sent as it ends the connection');
  t.match(hooks.punished, [{ nodeId: 'a', offence: { kind: 'invalid-block', hash: GENESIS_HASH, code: 'bad-merkle-root', reason: 'merkle root mismatch' } }]);
  const b = await up('b');
  setSubmitResult((hash) => ({ status: 'invalid', hash, code: 'time-too-new', reason: 'two hours ahead' }));
  await from('b', message('BLOCK', { block: GENESIS }));
  await handled();
  t.equal(hooks.punished.length, 1, 'a block from the future is policy: b is not punished');
  t.match(b.of('REJECT'), [{ payload: { message: 'BLOCK', code: 'time-too-new', hash: GENESIS_HASH } }], 'b is told why');
});

t.test('an orphan block makes gossip look for the fork point with a locator', async (t) => {
  const { up, from, handled, setSubmitResult } = await setup();
  const a = await up('a');
  setSubmitResult((hash) => ({ status: 'orphan', hash, missing: h(9) }));
  await from('a', message('BLOCK', { block: GENESIS }));
  await handled();
  t.same(a.of('GETLISTOFBLOCKS'), [message('GETLISTOFBLOCKS', { locator: LOCATOR, limit: MAX_LIST_OF_BLOCKS })]);
});

t.test('a full LISTOFBLOCKS asks for the next batch from its last hash', async (t) => {
  const { up, from } = await setup();
  const a = await up('a', 11n);
  const full = Array.from({ length: MAX_LIST_OF_BLOCKS }, (_, i) => h(100 + i));
  await from('a', message('LISTOFBLOCKS', { hashes: full }));
  t.same(a.of('GETLISTOFBLOCKS').at(-1), message('GETLISTOFBLOCKS', { locator: [full[full.length - 1]!, ...LOCATOR], limit: MAX_LIST_OF_BLOCKS }));
  t.equal(a.requested.length, 16, 'the first blocks are requested within the per-peer limit');
});

t.test('an unsolicited LISTOFBLOCKS is ignored; a BROADCASTBLOCK of many unknown hashes is checked by a sync instead', async (t) => {
  const { up, from } = await setup();
  const a = await up('a');
  await from('a', message('LISTOFBLOCKS', { hashes: Array.from({ length: 2_000 }, (_, i) => h(5_000 + i)) }));
  t.same(a.requested, [], 'nothing asked: we never asked for that list');
  await from('a', message('BROADCASTBLOCK', { hashes: Array.from({ length: 500 }, (_, i) => h(9_000 + i)) }));
  t.same(a.requested, [], 'no block of a 500-hash announcement is fetched on its word');
  t.same(a.of('GETLISTOFBLOCKS'), [message('GETLISTOFBLOCKS', { locator: LOCATOR, limit: MAX_LIST_OF_BLOCKS })], 'the announcer is asked for its list instead');
});

t.test('GETBLOCK is answered with BLOCK, or REJECT not-found; a REJECT not-found moves our request to another source', async (t) => {
  const { up, from } = await setup();
  const a = await up('a');
  const b = await up('b');
  await from('a', message('GETBLOCK', { hash: GENESIS_HASH }));
  await from('a', message('GETBLOCK', { hash: h(5) }));
  t.same(a.sent, [message('BLOCK', { block: GENESIS }), message('REJECT', { message: 'GETBLOCK', code: 'not-found', reason: 'unknown block', hash: h(5) })]);
  await from('a', message('BROADCASTBLOCK', { hashes: [h(6)] }));
  await from('b', message('BROADCASTBLOCK', { hashes: [h(6)] }));
  t.same(b.requested, []);
  await from('a', message('REJECT', { message: 'GETBLOCK', code: 'not-found', reason: 'pruned', hash: h(6) }));
  t.same(b.requested, [h(6)]);
});

t.test('a departed peer that alone had wanted blocks: the heaviest remaining peer is asked for its list', async (t) => {
  const { up, from, send } = await setup();
  const a = await up('a');
  const light = await up('light', 1n);
  const heavy = await up('heavy', 5n);
  await from('a', message('BROADCASTBLOCK', { hashes: [h(7)] }));
  t.same(a.requested, [h(7)]);
  await send({ type: 'gossip/peer-down', nodeId: 'a' });
  t.same(heavy.of('GETLISTOFBLOCKS').length, 1);
  t.same(light.of('GETLISTOFBLOCKS').length, 0);
  await send({ type: 'gossip/peer-down', nodeId: 'a' });
  await from('a', message('GETADDR', {}));
  t.same(a.sent.length, 1, 'a departed peer gets nothing more');
});

t.test('a new tip is announced once to every peer that does not know it', async (t) => {
  const { up, bus } = await setup();
  const a = await up('a');
  const b = await up('b');
  const tip = { hash: b.hello.tip, height: 1, chainWork: 12n };
  bus.publish({ type: 'tip-changed', tip, previous: { hash: GENESIS_HASH, height: 0, chainWork: 10n }, reorgDepth: 0 });
  bus.publish({ type: 'tip-changed', tip, previous: { hash: GENESIS_HASH, height: 0, chainWork: 10n }, reorgDepth: 0 });
  t.same(a.of('BROADCASTBLOCK'), [message('BROADCASTBLOCK', { hashes: [tip.hash], height: 1 })], 'a once');
  t.same(b.of('BROADCASTBLOCK'), [], 'b said in its HELLO that this is its tip');
});

t.test('accepted transactions are announced in batches on the tick, never back to the peer that sent them', async (t) => {
  const { up, from, bus, tick } = await setup();
  const a = await up('a');
  const b = await up('b');
  const tx = transfer(params, keyFromSeed(1), keyFromSeed(2), 5n, 0, 1n);
  await from('a', message('PUSHTRANSACTION', { transactions: [tx] }));
  bus.publish({ type: 'tx-accepted', tx, txid: txid(tx), source: 'a' });
  t.same(b.of('BROADCASTTRANSACTION'), [], 'nothing before the tick');
  await tick();
  t.same(b.of('BROADCASTTRANSACTION'), [message('BROADCASTTRANSACTION', { txids: [txid(tx)] })]);
  t.same(a.of('BROADCASTTRANSACTION'), [], 'a sent it');
  await tick();
  t.equal(b.of('BROADCASTTRANSACTION').length, 1, 'announced once');
});

t.test('an announcement of transactions fetches only those the mempool lacks', async (t) => {
  const { up, from } = await setup();
  const a = await up('a');
  await from('a', message('BROADCASTTRANSACTION', { txids: ['old1', 'new1', 'new2'] }));
  t.same(a.of('GETTRANSACTIONS'), [message('GETTRANSACTIONS', { txids: ['new1', 'new2'] })]);
});

t.test('a relayed coinbase is a punished offence; a transfer refused by policy gets a REJECT', async (t) => {
  const { up, from, hooks, mempool, handled } = await setup();
  const a = await up('a');
  const coinbase = GENESIS.txs[0]!;
  await from('a', message('PUSHTRANSACTION', { transactions: [coinbase] }));
  t.match(hooks.punished, [{ nodeId: 'a', offence: { kind: 'invalid-transaction', code: 'bad-coinbase-position', reason: 'relayed a coinbase outside a block' } }]);
  t.same(mempool.of('mempool/add-many'), [], 'nothing reached the mempool');
  mempool.handlers['mempool/add-many'] = (m) => m.txs.map((): AddTxResult => ({ accepted: false, ok: false, txid: 'low', code: 'fee-too-low', reason: 'below the minimum relay fee' }));
  const b = await up('b');
  await from('b', message('PUSHTRANSACTION', { transactions: [transfer(params, keyFromSeed(1), keyFromSeed(2), 5n, 0, 0n)] }));
  t.same(b.of('REJECT'), [], 'the verdicts come back as a message of their own');
  await handled();
  t.match(b.of('REJECT'), [{ payload: { code: 'fee-too-low', hash: 'low' } }]);
  t.equal(hooks.punished.length, 1, 'a policy refusal is not punished');
});

t.test('GETADDR and ADDR belong to the peer manager: gossip leaves them alone', async (t) => {
  const { up, from } = await setup();
  const a = await up('a');
  await from('a', message('GETADDR', {}));
  await from('a', message('ADDR', { addresses: [{ host: '10.0.0.1', port: 9000 }] }));
  t.same(a.sent, []);
});

t.test('stop unsubscribes from the bus', async (t) => {
  const { up, bus, actor } = await setup();
  const a = await up('a');
  await actor.stop();
  bus.publish({ type: 'tip-changed', tip: { hash: h(3), height: 3, chainWork: 20n }, previous: { hash: GENESIS_HASH, height: 0, chainWork: 10n }, reorgDepth: 0 });
  t.same(a.sent, []);
});
