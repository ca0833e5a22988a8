import t from 'tap';
import { connect, type NatsConnection } from 'nats';
import { blockFromJson, blockToJson } from '../../src/core/block.js';
import { generateKeyPair } from '../../src/core/ed25519.js';
import { toHex } from '../../src/core/encoding.js';
import { NETWORKS } from '../../src/core/params.js';
import { requestNode } from '../../src/nats/client.js';
import { natsNodeDeps } from '../../src/nats/node-wiring.js';
import { CONTROL_REQUEST_KINDS, type RequestKind } from '../../src/nats/subjects.js';
import { readApiToken } from '../../src/node/api-token.js';
import { startNode, type RunningNode } from '../../src/node/node.js';
import { mineBlock, regrind } from '../helpers/chain-builder.js';
import { NatsServer } from '../helpers/nats-server.js';
import { memoryLogger, regtestConfig, tempDir, withTimeout, WAIT_MS } from './fixtures.js';

/*
 * Control over NATS: a real regtest peer (LMDB, actors, its worker pool when
 * mining starts) whose bridge answers `…req.<kind>` on a real nats-server.
 * The token is the one the bridge service keeps in the peer's data folder.
 */

const NODE = 'peer-ctl';
let server: NatsServer;
let nc: NatsConnection;
let node: RunningNode;
let token: string;

t.before(async () => {
  server = await NatsServer.start();
  nc = await connect({ servers: server.url });
  const dir = tempDir('nats-control');
  // The peer's own worker pool mines when asked (not a NATS farm: no remote miners here).
  node = await startNode(regtestConfig(dir.path, NODE, undefined, { nats: { url: server.url, farm: false }, log: { level: 'warn' } }), { logger: memoryLogger('warn').logger, ...natsNodeDeps });
  token = readApiToken(dir.path);
  t.teardown(async () => {
    await node.stop();
    await nc.close();
    await server.stop();
    dir.cleanup();
  });
  // The bridge subscribes once it is connected: wait for its first answer.
  await withTimeout(
    (async () => {
      for (;;) {
        try {
          return await requestNode(nc, 'regtest', NODE, 'info', {}, 1_000);
        } catch {
          /* not subscribed yet */
        }
      }
    })(),
    WAIT_MS,
    'the bridge answers',
  );
});

const req = (kind: RequestKind, body: Record<string, unknown> = {}) => requestNode(nc, 'regtest', NODE, kind, body, WAIT_MS);
const ctl = (kind: RequestKind, body: Record<string, unknown> = {}) => req(kind, { token, ...body });

t.test('every control request needs the token: none or a wrong one is unauthorized, and nothing happens', async (t) => {
  for (const kind of CONTROL_REQUEST_KINDS) {
    const none = await req(kind, {});
    t.match(none, { ok: false, error: { code: 'unauthorized', message: /needs the peer's API token in "token"/ } }, `${kind} without the token`);
    const wrong = await req(kind, { token: '0'.repeat(64) });
    t.match(wrong, { ok: false, error: { code: 'unauthorized', message: /wrong token/ } }, `${kind} with a wrong token`);
  }
  t.equal((await node.api.info()).mining, false, 'mining never started');
  t.match(await req('bans'), { ok: true, result: [] }, 'reads stay open');
});

t.test('bad parameters are bad-request naming the field', async (t) => {
  t.same(await ctl('connect', { host: '127.0.0.1', port: 0 }), { ok: false, error: { code: 'bad-request', message: 'port: must be 1–65535' } });
  t.same(await ctl('disconnect', { nodeId: 'a b' }), { ok: false, error: { code: 'bad-request', message: 'nodeId: must be 1–128 characters of A-Z a-z 0-9 _ -' } });
  t.match(await ctl('ban', { host: '10.0.0.1', seconds: 0 }), { ok: false, error: { code: 'bad-request', message: 'seconds: must be at least 1' } });
  t.match(await ctl('send', { recipient: 'xyz', amount: '1', fee: '1' }), { ok: false, error: { code: 'bad-request', message: 'recipient: must be 64 hex characters' } });
  t.match(await ctl('mining-start', { extra: 1 }), { ok: false, error: { code: 'bad-request', message: /extra/ } });
  t.match(await ctl('submit-block', { block: 7 }), { ok: false, error: { code: 'bad-request', message: 'block: must be a block object (its JSON form)' } });
  t.match(await ctl('submit-block', { block: {} }), { ok: false, error: { code: 'bad-request', message: /^block: / } });
  t.match(await req('chain', { limit: -1 }), { ok: false, error: { code: 'bad-request', message: /limit/ } });
  t.match(await req('mempool', { limit: 'all' }), { ok: false, error: { code: 'bad-request', message: /limit/ } });
  t.match(await requestNode(nc, 'regtest', NODE, 'stop', new TextEncoder().encode('{not json')), { ok: false, error: { code: 'bad-json' } });
  t.equal((await node.api.info()).height, 0, 'the peer is untouched');
});

t.test('peers: connect, connect-tracker, disconnect, ban, unban', async (t) => {
  t.same(await ctl('connect', { host: '127.0.0.1', port: 1 }), { ok: true, result: {} }, 'a dial is started (it fails later, which is no error of the request)');
  t.match(await ctl('connect-tracker'), { ok: false, error: { code: 'unavailable', message: /no tracker/ } });
  t.match(await ctl('disconnect', { nodeId: 'nobody' }), { ok: false, error: { code: 'not-found' } });
  t.same(await ctl('ban', { host: '10.1.2.3', seconds: 60 }), { ok: true, result: {} });
  t.same(await ctl('ban', { nodeId: 'node-bad' }), { ok: true, result: {} });
  const bans = await req('bans');
  t.same(bans.ok && (bans.result as Array<{ key: string }>).map((b) => b.key).sort(), ['host:10.1.2.3', 'id:node-bad']);
  t.same(await ctl('unban', { host: '10.1.2.3' }), { ok: true, result: {} });
  t.match(await ctl('unban', { host: '10.1.2.3' }), { ok: false, error: { code: 'not-found' } }, 'already lifted');
});

t.test('mining, a transfer signed by the peer, the mempool and the chain', async (t) => {
  // Two blocks: a coinbase is spendable once the next block connects (regtest's coinbase maturity is 1).
  const second = new Promise<void>((resolve) => {
    const off = node.bus.on('block-connected', (e) => {
      if (e.entry.height >= 2) {
        off();
        resolve();
      }
    });
  });
  t.same(await ctl('mining-start'), { ok: true, result: {} });
  await withTimeout(second, 60_000, 'two mined blocks');
  t.same(await ctl('mining-stop'), { ok: true, result: {} });
  t.equal((await node.api.info()).mining, false);

  const sent = await ctl('send', { random: true });
  t.match(sent, { ok: true, result: { txid: /^[0-9a-f]{64}$/, tx: { type: 'transfer', sender: node.miningAddress } } });
  const pool = await req('mempool', { limit: 10 });
  t.match(pool, { ok: true, result: { size: 1, transactions: [{ txid: sent.ok ? (sent.result as { txid: string }).txid : '' }] } });
  const tooMuch = await ctl('send', { recipient: toHex(generateKeyPair().publicKey), amount: '2000000000000000', fee: '1000' });
  t.match(tooMuch, { ok: false, error: { code: 'rejected', reject: 'insufficient-balance', txid: /^[0-9a-f]{64}$/ } });

  const page = await req('chain', { limit: 2 });
  t.ok(page.ok);
  const blocks = page.ok ? (page.result as { blocks: Array<{ height: number }> }).blocks : [];
  t.equal(blocks.length, 2);
  t.ok(blocks[0]!.height > blocks[1]!.height, 'newest first');
});

t.test('submit-block: connected, duplicate, and an invalid block rejected with its code', async (t) => {
  const info = await node.api.info();
  const parent = blockFromJson((await node.api.blockByHash(info.tip))!.block);
  const prev = { hash: info.tip, header: parent.header, height: info.height };
  const time = Math.max(parent.header.time + 1, Math.floor(Date.now() / 1000));
  const next = mineBlock({ params: NETWORKS.regtest, prev, minerKey: generateKeyPair().publicKey, time });
  const json = blockToJson(next);
  t.match(await ctl('submit-block', { block: json }), { ok: true, result: { status: 'connected', height: info.height + 1 } });
  t.match(await ctl('submit-block', { block: json }), { ok: true, result: { status: 'duplicate' } });
  const other = mineBlock({ params: NETWORKS.regtest, prev: { hash: (await node.api.info()).tip, header: next.header, height: info.height + 1 }, minerKey: generateKeyPair().publicKey, time: time + 1 });
  const bad = { ...other, header: regrind({ ...other.header, merkleRoot: new Uint8Array(32) }, NETWORKS.regtest) };
  t.match(await ctl('submit-block', { block: blockToJson(bad) }), { ok: false, error: { code: 'rejected', reject: 'bad-merkle-root', hash: /^[0-9a-f]{64}$/ } });
});

t.test('stop: answered first, then the peer stops', async (t) => {
  t.same(await ctl('stop'), { ok: true, result: {} });
  await withTimeout(node.done, WAIT_MS, 'the peer stopped');
  t.pass('the peer stopped');
});
