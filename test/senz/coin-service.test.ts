import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { nodeConfigSchema } from '../../src/config/schema.js';
import { keyPairFromSeed } from '../../src/core/ed25519.js';
import { fromHex } from '../../src/core/encoding.js';
import { hashFromHex } from '../../src/core/hash.js';
import { COIN } from '../../src/core/params.js';
import { encodeTx, signTransfer, txid } from '../../src/core/transaction.js';
import { startNode, type RunningNode } from '../../src/node/node.js';
import { SenzClient, type ReceivedSenz } from '../../src/senz/client.js';
import { coinDate, coinId, coinService, coinValue } from '../../src/senz/coin-service.js';
import { attributeValue } from '../../src/senz/grammar.js';
import { generateSenzKey, type SenzKeyPair } from '../../src/senz/keys.js';
import { SenzSwitch } from '../../src/senz/switch.js';

/*
 * The coin services on a real chain: a regtest peer mining with a worker
 * thread, its coin service handed to it as a node service, a switch on UDP,
 * and two users. Coins requested through Senz are real transfers in real
 * blocks.
 */

t.test('coin id and date are the original miner\'s', async (t) => {
  t.equal(coinDate(1_700_000_000), '2023-11-1422:13:20');
  t.equal(coinId('500km', '2023-11-1422:13:20', 'alice'), createHash('sha1').update('500km2023-11-1422:13:20alice').digest('hex').slice(0, 20));
  t.equal(coinValue([{ amount: '5000000000' }, { amount: '5000000000' }, { amount: '1000000000' }]), 3_666_666_666n, 'issue-weighted average, floored');
  t.equal(coinValue([]), 0n);
});

const PRICE = COIN; // 1 coin per carpool request (service 1) in this test

/** A regtest peer running the coin service; `dir` keeps its data folder across a restart (the caller owns it). */
async function peerWithCoinService(t: Test, switchPort: number, dir?: string): Promise<RunningNode> {
  const owned = dir === undefined;
  const dataDir = dir ?? mkdtempSync(join(tmpdir(), 'cheesechain-senz-'));
  const config = nodeConfigSchema.parse({
    network: 'regtest',
    dataDir,
    nodeId: 'coins-peer',
    listen: { host: '127.0.0.1', port: 0 },
    api: { enabled: false },
    mining: { enabled: true, workers: 1 },
    senz: { switch: `127.0.0.1:${switchPort}`, name: 'coins', prices: { '1': String(PRICE), '9': String(20_000_000n * COIN) } },
    log: { level: 'silent' },
  });
  const node = await startNode(config, { logger: pino({ level: process.env.CHEESECHAIN_TEST_LOG ?? 'silent' }), services: [coinService] });
  t.teardown(async () => {
    await node.stop();
    if (owned) rmSync(dataDir, { recursive: true, force: true });
  });
  return node;
}

async function user(t: Test, sw: SenzSwitch, name: string, key: SenzKeyPair = generateSenzKey('ed25519')): Promise<SenzClient> {
  const c = await SenzClient.open({ name, key, switchHost: '127.0.0.1', switchPort: sw.port });
  t.teardown(() => c.close());
  await c.register();
  return c;
}

function fromCoins(r: ReceivedSenz): boolean {
  return r.msg.sender === 'coins';
}

/** Resolves when `predicate` holds, re-checked after every connected block. */
async function afterBlocks(node: RunningNode, predicate: () => Promise<boolean>): Promise<void> {
  for (;;) {
    const next = node.bus.once('block-connected');
    if (await predicate()) return;
    await next;
  }
}

t.test('a coin for a carpool request is paid on the chain, confirmed in the next block, and sent on to another user', async (t) => {
  const sw = new SenzSwitch({ dataDir: t.testdir({}), port: 0, keyType: 'ed25519' });
  await sw.start();
  t.teardown(() => sw.stop());
  const coinsRegistered = (): Promise<void> => new Promise<void>((resolve) => sw.on('registered', (name) => name === 'coins' && resolve()));
  const registered = coinsRegistered();
  const dir = t.testdir({});
  const node = await peerWithCoinService(t, sw.port, dir);
  await registered;
  const aliceKey = generateSenzKey('ed25519');
  const alice = await user(t, sw, 'alice', aliceKey);
  const bob = await user(t, sw, 'bob');

  // the service pays from block rewards: wait until the mining key can pay a coin and its fee
  await afterBlocks(node, async () => BigInt((await node.api.account(node.miningAddress)).balance) > PRICE + 1000n);

  const time = Math.floor(Date.now() / 1000);
  const request = `SHARE #f cc #TIME ${time} #COIN #TXID #AMOUNT #S_ID 1 #S_PARA colombo-kandy-115km @coins`;
  const put = await alice.request(request, (r) => fromCoins(r) && r.msg.command === 'PUT');
  const coin = attributeValue(put.msg, 'COIN')!;
  const paid = attributeValue(put.msg, 'TXID')!;
  t.equal(coin, coinId('colombo-kandy-115km', coinDate(time), 'alice'), 'the coin id is SHA-1 of S_PARA, date and sender');
  t.equal(attributeValue(put.msg, 'TIME'), coinDate(time));
  t.equal(attributeValue(put.msg, 'AMOUNT'), '1');
  const payment = await node.api.transaction(paid);
  t.equal(payment?.tx.type === 'transfer' && payment.tx.recipient, aliceKey.publicKey.address, 'paid to the requester\'s ed25519 key');
  t.equal(payment?.tx.type === 'transfer' && payment.tx.sender, node.miningAddress, 'from the peer\'s mining key');

  // the same request again (another signature, same S_PARA, second and sender): the same coin, no second payment
  const nonceBefore = (await node.api.account(node.miningAddress)).pendingNonce;
  const again = await alice.request(request, (r) => fromCoins(r) && r.msg.command === 'PUT');
  t.equal(attributeValue(again.msg, 'COIN'), coin);
  t.equal(attributeValue(again.msg, 'TXID'), paid);
  t.equal((await node.api.account(node.miningAddress)).pendingNonce, nonceBefore, 'no second transfer was made');

  // after the next block the coin is in alice's balance, and her history says confirmed
  await afterBlocks(node, async () => (await node.api.transaction(paid))?.status === 'confirmed');
  t.equal((await node.api.account(aliceKey.publicKey.address!)).balance, String(PRICE));
  const bal = await alice.request('SHARE #f bal @coins', (r) => fromCoins(r) && attributeValue(r.msg, 'msg') === 'Balance');
  t.equal(attributeValue(bal.msg, 'BALANCE'), '1');
  t.equal(attributeValue(bal.msg, 'ADDR'), aliceKey.publicKey.address);
  const history: ReceivedSenz[] = [];
  alice.onMessage((r) => fromCoins(r) && attributeValue(r.msg, 'msg') === 'Coin' && history.push(r));
  const end = await alice.request('SHARE #f hist @coins', (r) => fromCoins(r) && attributeValue(r.msg, 'msg') === 'HistoryEnd');
  t.equal(attributeValue(end.msg, 'COUNT'), '1');
  t.equal(history.length, 1);
  t.equal(attributeValue(history[0]!.msg, 'STATUS'), 'confirmed');

  // cv: the issue-weighted value of the coins issued
  const cv = await alice.request('SHARE #COIN_VALUE #f cv @coins', (r) => fromCoins(r) && r.msg.command === 'PUT');
  t.equal(attributeValue(cv.msg, 'COIN_VALUE'), '1');

  // ct: alice signs a transfer to bob on her side; the service submits its bytes
  const net = hashFromHex(attributeValue(bal.msg, 'NET')!);
  const der = aliceKey.privateKey.export({ type: 'pkcs8', format: 'der' });
  const secret = keyPairFromSeed(der.subarray(der.length - 32)).secretKey;
  const bobAddress = (await alice.publicKeyOf('bob')).address!;
  const tx = signTransfer(net, { recipient: fromHex(bobAddress, 32), amount: PRICE / 2n, fee: 1000n, nonce: Number(attributeValue(bal.msg, 'NONCE')) }, secret);
  alice.send('SHARE #f #TX @coins');
  const ct = `DATA #f ct #TX ${Buffer.from(encodeTx(tx)).toString('hex')} @coins`;
  const submitted = await alice.request(ct, (r) => fromCoins(r) && attributeValue(r.msg, 'msg') === 'TransferSubmitted');
  t.equal(attributeValue(submitted.msg, 'TXID'), txid(tx));
  const resent = await alice.request(ct, (r) => fromCoins(r) && attributeValue(r.msg, 'msg') !== undefined);
  t.equal(attributeValue(resent.msg, 'msg'), 'TransferSubmitted', 'the same transfer again is answered with its txid');
  t.equal(attributeValue(resent.msg, 'TXID'), txid(tx));
  await afterBlocks(node, async () => (await node.api.transaction(txid(tx)))?.status === 'confirmed');
  t.equal((await node.api.account(bobAddress)).balance, String(PRICE / 2n), 'bob has the coins alice sent');
  t.equal((await node.api.account(aliceKey.publicKey.address!)).balance, String(PRICE / 2n - 1000n));

  // refusals are typed
  const unknown = await bob.request(`SHARE #f cc #TIME ${time} #COIN #S_ID 7 #S_PARA x @coins`, (r) => fromCoins(r));
  t.equal(attributeValue(unknown.msg, 'msg'), 'CoinRefused');
  t.equal(attributeValue(unknown.msg, 'reason'), 'unknown-service');
  const tooDear = await bob.request(`SHARE #f cc #TIME ${time} #COIN #S_ID 9 #S_PARA x @coins`, (r) => fromCoins(r));
  t.equal(attributeValue(tooDear.msg, 'reason'), 'insufficient-funds');
  const badTx = await bob.request('DATA #f ct #TX 00ff #msg transfer @coins', (r) => fromCoins(r));
  t.equal(attributeValue(badTx.msg, 'msg'), 'TransferRefused');
  t.equal(attributeValue(badTx.msg, 'reason'), 'bad-tx');
  const rsaUser = await user(t, sw, 'carol', generateSenzKey('rsa', 1024));
  const noAddr = await rsaUser.request(`SHARE #f cc #TIME ${time} #COIN #S_ID 1 #S_PARA y @coins`, (r) => fromCoins(r));
  t.equal(attributeValue(noAddr.msg, 'reason'), 'no-address', 'an RSA key is no chain address without #ADDR');

  // a restarted peer keeps its coin records: the first request again gets the same coin and no payment
  const minerNonce = (await node.api.account(node.miningAddress)).pendingNonce;
  await node.stop();
  const reRegistered = coinsRegistered();
  const restarted = await peerWithCoinService(t, sw.port, dir);
  await reRegistered;
  const afterRestart = await alice.request(request, (r) => fromCoins(r) && r.msg.command === 'PUT');
  t.equal(attributeValue(afterRestart.msg, 'COIN'), coin);
  t.equal(attributeValue(afterRestart.msg, 'TXID'), paid);
  t.equal((await restarted.api.account(restarted.miningAddress)).pendingNonce, minerNonce, 'no payment after the restart');
});
