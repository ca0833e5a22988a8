import { statSync, writeFileSync, chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { API_TOKEN_FILE, ApiTokenError, loadOrCreateApiToken } from '../../src/node/api-token.js';
import { generateKeyPair } from '../../src/core/ed25519.js';
import { toHex } from '../../src/core/encoding.js';
import { getWithHost, openEvents, request, startDashboardPeer } from './helpers.js';
import { blockToJson } from '../../src/core/block.js';
import { ChainBuilder, regtest } from '../helpers/chain-builder.js';

/*
 * The dashboard's server side against a real regtest peer: the token and its
 * cookie, the Host and cross-site checks, every control route with its bad
 * input, the event stream and /metrics.
 */

t.test('the api.token file is created with mode 0600, kept across restarts, and refused when others may read it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cheesechain-token-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const token = loadOrCreateApiToken(dir);
  t.match(token, /^[0-9a-f]{64}$/);
  t.equal(statSync(join(dir, API_TOKEN_FILE)).mode & 0o777, 0o600);
  t.equal(loadOrCreateApiToken(dir), token, 'the same token after a restart');
  chmodSync(join(dir, API_TOKEN_FILE), 0o644);
  t.throws(() => loadOrCreateApiToken(dir), ApiTokenError);
  chmodSync(join(dir, API_TOKEN_FILE), 0o600);
  writeFileSync(join(dir, API_TOKEN_FILE), 'short\n', { mode: 0o600 });
  t.throws(() => loadOrCreateApiToken(dir), /64 hex characters/);
});

t.test('the token, the Host check and cross-site refusal', async (t) => {
  const p = await startDashboardPeer(t, { nodeId: 'dash-guard' });
  const page = await request(`${p.base}/`);
  t.equal(page.status, 200, 'the dashboard is a read: open without the token');
  t.match(page.headers.get('content-type'), /text\/html/);
  t.match(page.body, /<div id="app">/);
  t.match(page.headers.get('content-security-policy'), /script-src 'self'/);
  t.equal((await request(`${p.base}/app.js`)).status, 200, 'the bundle is served by the peer itself');

  const wrong = await request(`${p.base}/?token=${'0'.repeat(64)}`);
  t.equal(wrong.status, 401);
  t.equal(wrong.body.error.code, 'unauthorized');
  const right = await request(`${p.base}/?token=${p.token}`);
  t.equal(right.status, 303, 'the token in the address is traded for a cookie');
  t.equal(right.headers.get('location'), '/');
  const cookie = right.headers.get('set-cookie') ?? '';
  t.match(cookie, new RegExp(`^cheesechain-token-${p.http.port}=${p.token};`));
  t.match(cookie, /HttpOnly/);
  t.match(cookie, /SameSite=Strict/);

  const none = await request(`${p.base}/mining/stop`, { body: {} });
  t.equal(none.status, 401, 'control without the token');
  t.equal(none.body.error.code, 'unauthorized');
  t.match(none.body.error.reason, /needs the API token/);
  const bad = await request(`${p.base}/mining/stop`, { body: {}, headers: { authorization: `Bearer ${'f'.repeat(64)}` } });
  t.equal(bad.status, 401);
  t.match(bad.body.error.reason, /wrong API token/);
  t.equal((await request(`${p.base}/mining/stop`, { body: {}, headers: { cookie: p.cookie } })).status, 200, 'the cookie carries the token');
  t.equal((await request(`${p.base}/mining/stop`, { body: {}, headers: { authorization: `Bearer ${p.token}` } })).status, 200, 'so does a bearer header');
  t.same((await request(`${p.base}/auth`, { headers: { cookie: p.cookie } })).body, { control: true });
  t.same((await request(`${p.base}/auth`)).body, { control: false });

  const rebound = await getWithHost(p.base, '/info', `evil.example:${p.http.port}`);
  t.equal(rebound.status, 403, 'a DNS-rebinding Host is refused, even for reads');
  t.equal(rebound.body.error.code, 'forbidden-host');
  t.equal((await getWithHost(p.base, '/info', `localhost:${p.http.port}`)).status, 200);

  const foreign = await request(`${p.base}/mining/stop`, { body: {}, headers: { cookie: p.cookie, origin: 'http://evil.example' } });
  t.equal(foreign.status, 403, 'a page of another site may not use the cookie');
  t.equal(foreign.body.error.code, 'cross-site');
  const sameSite = await request(`${p.base}/mining/stop`, { body: {}, headers: { cookie: p.cookie, 'sec-fetch-site': 'same-site' } });
  t.equal(sameSite.status, 403, 'another port of the same host is another origin');
  t.equal((await request(`${p.base}/mining/stop`, { body: {}, headers: { cookie: p.cookie, origin: p.base, 'sec-fetch-site': 'same-origin' } })).status, 200);
  t.equal((await request(`${p.base}/info`)).status, 200, 'the node keeps running');
});

t.test('control routes: each action, and bad parameters name their field', async (t) => {
  const p = await startDashboardPeer(t, { nodeId: 'dash-control', overrides: { mining: { enabled: false, workers: 1 } } });
  const auth = { cookie: p.cookie };
  const post = (path: string, body: unknown) => request(`${p.base}${path}`, { body, headers: auth });

  const badPort = await post('/peers/connect', { host: '127.0.0.1', port: 'x' });
  t.equal(badPort.status, 400);
  t.match(badPort.body.error.reason, /^port: /);
  t.match((await post('/peers/connect', { host: '127.0.0.1', port: 70000 })).body.error.reason, /^port: must be 1–65535/);
  t.match((await post('/peers/connect', { port: 1 })).body.error.reason, /^host: /);
  t.match((await post('/wallet/send', { recipient: 'zz', amount: '1', fee: '1' })).body.error.reason, /^recipient: must be 64 hex/);
  t.match((await post('/wallet/send', { recipient: 'a'.repeat(64), amount: '1.5', fee: '1' })).body.error.reason, /^amount: /);
  t.match((await post('/peers/ban', { nodeId: 'x', seconds: 0 })).body.error.reason, /^seconds: /);
  t.match((await post('/peers/ban', { nodeId: 'x', host: 'y' })).body.error.reason, /nodeId or host/);
  t.match((await post('/mining/start', { now: true })).body.error.reason, /body/);
  t.match((await post('/blocks', { header: 1 })).body.error.reason, /^block: /);
  // A refused block carries its reject code: 400 when it is invalid anywhere, 409 when only this peer's clock refuses it.
  const chain = new ChainBuilder(regtest);
  const now = Math.floor(Date.now() / 1000);
  const early = chain.next([], { time: now + regtest.maxFutureSeconds + 3_600 }).block;
  const ahead = await post('/blocks', blockToJson(early));
  t.equal(ahead.status, 409, 'a block time ahead of this clock is policy');
  t.equal(ahead.body.error.code, 'time-too-new');
  const good = new ChainBuilder(regtest).next([], { time: now }).block;
  const wrongRoot = await post('/blocks', blockToJson({ ...good, txs: [{ ...good.txs[0]!, recipient: generateKeyPair().publicKey } as (typeof good.txs)[0]] }));
  t.equal(wrongRoot.status, 400, 'a consensus failure is 400');
  t.equal(wrongRoot.body.error.code, 'bad-merkle-root');
  t.match(wrongRoot.body.hash, /^[0-9a-f]{64}$/);
  t.match((await post('/blocks', blockToJson(good))).body, { status: 'connected', height: 1 });
  t.equal((await request(`${p.base}/chain?limit=x`)).body.error.reason, 'limit must be a non-negative integer, got "x"');

  t.equal((await post('/peers/disconnect', { nodeId: 'nobody' })).status, 404);
  const authenticatedId = `ed25519_${'ab'.repeat(32)}`;
  t.equal((await post('/peers/disconnect', { nodeId: authenticatedId })).status, 404, 'an authenticated id (72 characters) is a node id: not connected, not a bad request');
  t.equal((await post('/peers/disconnect', { nodeId: 'x'.repeat(129) })).status, 400, 'longer than any wire id');
  t.equal((await post('/peers/connect-tracker', {})).status, 409, 'no tracker configured');
  t.equal((await post('/peers/connect', { host: '127.0.0.1', port: 1 })).status, 200, 'a dial is started (and fails later, which is no error of the request)');

  t.equal((await post('/peers/ban', { host: '10.1.2.3', seconds: 60 })).status, 200);
  t.equal((await post('/peers/ban', { nodeId: 'node-bad' })).status, 200);
  t.equal((await post('/peers/ban', { nodeId: authenticatedId, seconds: 60 })).status, 200, 'a peer with an authenticated id can be banned by it');
  const bans = (await request(`${p.base}/bans`)).body as Array<{ key: string; until: number }>;
  t.same(bans.map((b) => b.key).sort(), ['host:10.1.2.3', `id:${authenticatedId}`, 'id:node-bad']);
  t.equal((await post('/peers/unban', { nodeId: authenticatedId })).status, 200);
  t.equal((await post('/peers/unban', { host: '10.1.2.3' })).status, 200);
  t.equal((await post('/peers/unban', { host: '10.1.2.3' })).status, 404, 'already lifted');

  // Mining through the API, then a transfer signed with the node's key, seen in the mempool and mined into a block.
  const events = await openEvents(p.base);
  t.teardown(() => events.close());
  // Two blocks: a coinbase is spendable once the next block connects (regtest's coinbase maturity is 1).
  const secondBlock = events.next('block-connected', (b) => b.height >= 2);
  t.equal((await post('/mining/start', {})).status, 200);
  const block = await secondBlock;
  t.ok(block.height >= 2);
  t.equal((await post('/mining/stop', {})).status, 200);
  const info = (await request(`${p.base}/info`)).body;
  t.equal(info.mining, false);
  t.ok(info.blocksWon >= 1);
  t.equal(info.syncProgress, 1);

  const accepted = events.next('tx-accepted');
  const sent = await post('/wallet/send', { random: true });
  t.equal(sent.status, 200, JSON.stringify(sent.body));
  t.match(sent.body, { accepted: true, txid: /^[0-9a-f]{64}$/, tx: { type: 'transfer', sender: info.miningAddress } });
  t.equal((await accepted).txid, sent.body.txid, 'the event stream tells of it');
  const pool = (await request(`${p.base}/mempool`)).body;
  t.same(pool.transactions.map((x: { txid: string }) => x.txid), [sent.body.txid]);
  const recipient = toHex(generateKeyPair().publicKey);
  const formed = await post('/wallet/send', { recipient, amount: '1000', fee: '1000' });
  t.equal(formed.status, 200, JSON.stringify(formed.body));
  const balance = BigInt((await request(`${p.base}/accounts/${info.miningAddress}`)).body.balance);
  const tooMuch = await post('/wallet/send', { recipient, amount: String(balance + 1n), fee: '1000' });
  t.equal(tooMuch.status, 409, 'a typed refusal');
  t.equal(tooMuch.body.error.code, 'insufficient-balance');

  const mined = events.next('block-connected', (b) => b.txCount >= 3);
  await post('/mining/start', {});
  const withTx = await mined;
  await post('/mining/stop', {});
  const detail = (await request(`${p.base}/blocks/${withTx.hash}`)).body;
  t.ok(detail.txids.includes(sent.body.txid), 'the transfer is in a block');
  t.ok(detail.txids.includes(formed.body.txid));
  const page = (await request(`${p.base}/chain?limit=3`)).body;
  t.ok(page.height >= withTx.height);
  t.equal(page.blocks.length, 3);
  t.ok(page.blocks[0].height > page.blocks[1].height, 'newest first');
  const older = (await request(`${p.base}/chain?from=${page.blocks[2].height - 1}&limit=2`)).body;
  t.equal(older.blocks[0].height, page.blocks[2].height - 1, 'the next page goes on below');
  t.same((await request(`${p.base}/tracker`)).body, { tracker: null, peerId: null, updatedAt: null, members: [] });

  const metrics = await request(`${p.base}/metrics`);
  t.equal(metrics.status, 200);
  t.match(metrics.headers.get('content-type'), /text\/plain/);
  for (const name of [
    'cheesechain_height ',
    'cheesechain_blocks_connected_total ',
    'cheesechain_blocks_disconnected_total ',
    'cheesechain_reorgs_total ',
    'cheesechain_reorg_depth_blocks_bucket',
    'cheesechain_mempool_transactions ',
    'cheesechain_mempool_bytes ',
    'cheesechain_peers{direction="inbound"}',
    'cheesechain_hash_rate_hashes_per_second ',
    'cheesechain_sync_progress_ratio 1',
    'cheesechain_bans_total ',
    'cheesechain_dashboard_clients 1',
    'nodejs_eventloop_lag_seconds ',
    'process_resident_memory_bytes ',
  ]) {
    t.ok(metrics.body.includes(name), name.trim());
  }
  t.ok(Number(/^cheesechain_height (\d+)$/m.exec(metrics.body)?.[1]) >= withTx.height, 'the height gauge follows the tip');

  const stopped = p.node.done;
  t.equal((await post('/node/stop', {})).status, 200, 'stop node answers before it stops');
  await stopped;
  t.pass('the node stopped');
});
