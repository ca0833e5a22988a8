import t, { type Test } from 'tap';
import { pino } from 'pino';
import { MAX_HTTP_BODY_BYTES, startHttpApi, type HttpApi } from '../../src/api/http.js';
import { AskTimeoutError } from '../../src/actors/runtime/errors.js';
import { blockHash, blockSize, blockToJson } from '../../src/core/block.js';
import { generateKeyPair } from '../../src/core/ed25519.js';
import { toHex } from '../../src/core/encoding.js';
import { genesisBlock, networkId } from '../../src/core/genesis.js';
import { hashToHex } from '../../src/core/hash.js';
import { NETWORKS } from '../../src/core/params.js';
import { signTransfer, txFromJson, txid, txToJson, type TransferTx } from '../../src/core/transaction.js';
import { checkTransfer } from '../../src/core/validation.js';
import { parseSubmittedTransfer } from '../../src/node/node.js';
import type { AccountView, BlockView, NodeApi, NodeInfo, SubmitResult, TransactionView } from '../../src/node/node-api.js';
import { coreApiOnly, type CoreApi } from '../helpers/node-api-double.js';

/*
 * Unit tests of the HTTP layer: a real fastify server on 127.0.0.1 and real
 * fetch, in front of a small NodeApi that answers from the regtest genesis
 * block and checks submitted transfers with the real core (decoding,
 * signature, nonce). The node's own NodeApi is exercised end to end in
 * test/cli/wallet-e2e.test.ts.
 */

const params = NETWORKS.regtest;
const netId = networkId(params);
const genesis = genesisBlock(params);
const genesisHash = hashToHex(blockHash(genesis));

type SubmitBlockResult = Awaited<ReturnType<NodeApi['submitBlock']>>;

class ChainlessApi implements CoreApi {
  readonly pending = new Map<string, TransferTx>();
  readonly nonces = new Map<string, number>();
  failWith: Error | undefined;

  private check(): void {
    if (this.failWith) throw this.failWith;
  }
  async info(): Promise<NodeInfo> {
    this.check();
    return {
      network: params.name,
      networkId: hashToHex(netId),
      nodeId: 'test-node',
      height: 0,
      tip: genesisHash,
      chainWork: '2',
      peers: 0,
      mempool: this.pending.size,
      hashRate: 0,
      mining: false,
      blocksWon: 0,
      bestPeerHeight: 0,
      syncProgress: 1,
    };
  }
  private view(): BlockView {
    return { hash: genesisHash, height: 0, mainChain: true, size: blockSize(genesis), block: blockToJson(genesis), txids: genesis.txs.map(txid) };
  }
  async blockByHash(hash: string): Promise<BlockView | undefined> {
    this.check();
    return hash === genesisHash ? this.view() : undefined;
  }
  async blockByHeight(height: number): Promise<BlockView | undefined> {
    return height === 0 ? this.view() : undefined;
  }
  async transaction(id: string): Promise<TransactionView | undefined> {
    const tx = this.pending.get(id);
    return tx && { txid: id, status: 'mempool', tx: txToJson(tx) };
  }
  async account(key: string): Promise<AccountView> {
    const nonce = this.nonces.get(key) ?? 0;
    return { key, balance: '0', nonce: 0, pendingNonce: nonce };
  }
  async submitTransaction(json: unknown): Promise<SubmitResult> {
    const parsed = parseSubmittedTransfer(json);
    if (!parsed.ok) return { accepted: false, code: parsed.code, reason: parsed.reason };
    const tx = parsed.tx;
    const id = txid(tx);
    if (this.pending.has(id)) return { accepted: false, code: 'already-known', reason: 'already in the mempool', txid: id };
    const v = checkTransfer(tx, netId);
    if (!v.ok) return { accepted: false, code: v.code, reason: v.reason, txid: id };
    const sender = toHex(tx.sender);
    const expected = this.nonces.get(sender) ?? 0;
    if (tx.nonce !== expected) return { accepted: false, code: 'bad-nonce', reason: `nonce ${tx.nonce}, expected ${expected}`, txid: id };
    this.pending.set(id, tx);
    this.nonces.set(sender, expected + 1);
    return { accepted: true, txid: id };
  }
  async peers() {
    return [{ nodeId: 'other', host: '127.0.0.1', port: 28330, direction: 'outbound' as const, height: 0, latencyMs: null }];
  }
  async submitBlock(): Promise<SubmitBlockResult> {
    return { status: 'malformed', reason: 'this test serves no blocks' };
  }
}

const logger = pino({ level: 'silent' });

async function start(t: Test): Promise<{ api: ChainlessApi; server: HttpApi; get: (path: string) => Promise<{ status: number; body: any }>; post: (path: string, body: string, type?: string) => Promise<{ status: number; body: any }> }> {
  const api = new ChainlessApi();
  const server = await startHttpApi(coreApiOnly(api), { port: 0, logger });
  t.teardown(() => server.close());
  const get = async (path: string) => {
    const res = await fetch(server.url + path);
    return { status: res.status, body: await res.json() };
  };
  const post = async (path: string, body: string, type = 'application/json') => {
    const res = await fetch(server.url + path, { method: 'POST', headers: { 'content-type': type }, body });
    return { status: res.status, body: await res.json() };
  };
  return { api, server, get, post };
}

const alice = generateKeyPair();
const bob = generateKeyPair();
const transfer = (nonce: number, amount = 5n) => txToJson(signTransfer(netId, { recipient: bob.publicKey, amount, fee: 1n, nonce }, alice.secretKey));

t.test('listens on 127.0.0.1 by default and reports the bound port', async (t) => {
  const { server } = await start(t);
  t.equal(server.host, '127.0.0.1');
  t.ok(server.port > 0);
  t.equal(server.url, `http://127.0.0.1:${server.port}`);
});

t.test('GET /info answers the node info', async (t) => {
  const { get } = await start(t);
  const r = await get('/info');
  t.equal(r.status, 200);
  t.equal(r.body.network, 'regtest');
  t.equal(r.body.networkId, hashToHex(netId));
  t.equal(r.body.tip, genesisHash);
});

t.test('GET /blocks/:hash finds a block, accepts upper-case hex, 404s an unknown one and 400s bad hex', async (t) => {
  const { get } = await start(t);
  const ok = await get(`/blocks/${genesisHash}`);
  t.equal(ok.status, 200);
  t.equal(ok.body.hash, genesisHash);
  t.equal(ok.body.height, 0);
  t.same(ok.body.block, blockToJson(genesis));
  t.equal((await get(`/blocks/${genesisHash.toUpperCase()}`)).status, 200);

  const unknown = await get(`/blocks/${'ab'.repeat(32)}`);
  t.equal(unknown.status, 404);
  t.equal(unknown.body.error.code, 'not-found');
  t.match(unknown.body.error.reason, /unknown block/);

  for (const bad of ['zz', 'ab'.repeat(31), 'g'.repeat(64), 'ab'.repeat(33)]) {
    const r = await get(`/blocks/${bad}`);
    t.equal(r.status, 400, bad);
    t.equal(r.body.error.code, 'bad-request');
    t.match(r.body.error.reason, /block hash must be 64 hex characters/);
  }
});

t.test('GET /blocks/height/:height finds height 0, 404s above the tip and 400s non-integers', async (t) => {
  const { get } = await start(t);
  const ok = await get('/blocks/height/0');
  t.equal(ok.status, 200);
  t.equal(ok.body.hash, genesisHash);
  const above = await get('/blocks/height/7');
  t.equal(above.status, 404);
  t.match(above.body.error.reason, /no main-chain block at height 7/);
  for (const bad of ['-1', 'abc', '1.5', '01', '99999999999999999999']) {
    const r = await get(`/blocks/height/${bad}`);
    t.equal(r.status, 400, bad);
    t.match(r.body.error.reason, /height must be a non-negative integer/);
  }
});

t.test('GET /accounts/:key answers balance, nonce and pendingNonce; bad keys are 400', async (t) => {
  const { get } = await start(t);
  const key = toHex(alice.publicKey);
  const r = await get(`/accounts/${key}`);
  t.equal(r.status, 200);
  t.same(r.body, { key, balance: '0', nonce: 0, pendingNonce: 0 });
  const bad = await get('/accounts/not-a-key');
  t.equal(bad.status, 400);
  t.match(bad.body.error.reason, /account key \(ed25519 public key\) must be 64 hex characters/);
});

t.test('POST /tx accepts a signed transfer, then GET /tx/:txid finds it', async (t) => {
  const { get, post } = await start(t);
  const tx = transfer(0);
  const id = txid(txFromJson(tx));
  t.equal((await get(`/tx/${id}`)).status, 404);
  const r = await post('/tx', JSON.stringify(tx));
  t.equal(r.status, 200);
  t.same(r.body, { accepted: true, txid: id });
  const found = await get(`/tx/${id}`);
  t.equal(found.status, 200);
  t.equal(found.body.status, 'mempool');
  t.same(found.body.tx, tx);
  t.equal((await get(`/accounts/${toHex(alice.publicKey)}`)).body.pendingNonce, 1);
  t.equal((await get('/tx/xyz')).status, 400);
});

t.test('POST /tx maps rejections: invalid → 400, state or policy → 409, with code and reason', async (t) => {
  const { post } = await start(t);
  const good = transfer(0);
  t.equal((await post('/tx', JSON.stringify(good))).status, 200);

  const dup = await post('/tx', JSON.stringify(good));
  t.equal(dup.status, 409);
  t.equal(dup.body.error.code, 'already-known');
  t.equal(dup.body.txid, txid(txFromJson(good)));

  const wrongNonce = await post('/tx', JSON.stringify(transfer(5)));
  t.equal(wrongNonce.status, 409);
  t.equal(wrongNonce.body.error.code, 'bad-nonce');

  const forged = { ...transfer(1), amount: '6' };
  const sig = await post('/tx', JSON.stringify(forged));
  t.equal(sig.status, 400);
  t.equal(sig.body.error.code, 'bad-signature');

  const malformed = await post('/tx', JSON.stringify({ ...good, amount: '-1' }));
  t.equal(malformed.status, 400);
  t.equal(malformed.body.error.code, 'malformed');
  t.match(malformed.body.error.reason, /transaction\.amount/);

  const coinbase = await post('/tx', JSON.stringify({ type: 'coinbase', recipient: toHex(bob.publicKey), amount: '1', height: 1 }));
  t.equal(coinbase.status, 409);
  t.equal(coinbase.body.error.code, 'coinbase-not-relayed');
});

t.test('POST /tx refuses bodies that are not JSON transactions', async (t) => {
  const { post } = await start(t);
  const badJson = await post('/tx', '{"type": ');
  t.equal(badJson.status, 400);
  t.equal(badJson.body.error.code, 'bad-request');
  t.match(badJson.body.error.reason, /not valid JSON/);

  const notJson = await post('/tx', 'hello', 'text/plain');
  t.equal(notJson.status, 415);
  t.equal(notJson.body.error.code, 'unsupported-media-type');

  const huge = await post('/tx', JSON.stringify({ pad: 'x'.repeat(MAX_HTTP_BODY_BYTES) }));
  t.equal(huge.status, 413);
  t.equal(huge.body.error.code, 'payload-too-large');

  const notObject = await post('/tx', '42');
  t.equal(notObject.status, 400);
  t.equal(notObject.body.error.code, 'malformed');
});

t.test('GET /peers lists peers; unknown routes are 404 in the same error shape', async (t) => {
  const { get } = await start(t);
  const peers = await get('/peers');
  t.equal(peers.status, 200);
  t.equal(peers.body.length, 1);
  t.equal(peers.body[0].nodeId, 'other');
  const none = await get('/nope');
  t.equal(none.status, 404);
  t.equal(none.body.error.code, 'not-found');
});

t.test('a node that does not answer gives 503; an internal failure gives 500 without details', async (t) => {
  const { api, get } = await start(t);
  api.failWith = new AskTimeoutError('chain', 10);
  const slow = await get('/info');
  t.equal(slow.status, 503);
  t.equal(slow.body.error.code, 'unavailable');
  api.failWith = new Error('secret internals');
  const broken = await get(`/blocks/${genesisHash}`);
  t.equal(broken.status, 500);
  t.equal(broken.body.error.code, 'internal');
  t.notMatch(broken.body.error.reason, /secret/);
});

t.test('close() is idempotent and frees the port', async (t) => {
  const api = new ChainlessApi();
  const server = await startHttpApi(coreApiOnly(api), { port: 0, logger });
  await Promise.all([server.close(), server.close()]);
  await t.rejects(fetch(server.url + '/info'));
});
