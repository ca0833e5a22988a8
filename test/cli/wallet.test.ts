import t, { type Test } from 'tap';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { startHttpApi } from '../../src/api/http.js';
import {
  WalletError,
  createWalletFile,
  formatCoins,
  parseBaseUnits,
  parseCoins,
  readWalletFile,
  sendTransfer,
} from '../../src/cli/wallet.js';
import { generateKeyPair } from '../../src/core/ed25519.js';
import { toHex } from '../../src/core/encoding.js';
import { genesisBlock, networkId } from '../../src/core/genesis.js';
import { hashToHex } from '../../src/core/hash.js';
import { COIN, MAX_MONEY, NETWORKS } from '../../src/core/params.js';
import { txFromJson, txid, type TransferTx } from '../../src/core/transaction.js';
import { checkTransfer } from '../../src/core/validation.js';
import { blockHash } from '../../src/core/block.js';
import type { SubmitResult } from '../../src/node/node-api.js';
import { coreApiOnly, type CoreApi } from '../helpers/node-api-double.js';
import { runCli } from './run-cli.js';

function walletError(t: Test, fn: () => unknown, reason: WalletError['reason']): WalletError | undefined {
  try {
    fn();
  } catch (err) {
    t.type(err, WalletError);
    t.equal((err as WalletError).reason, reason);
    t.equal((err as WalletError).code, 'ERR_WALLET');
    return err as WalletError;
  }
  t.fail(`expected WalletError ${reason}`);
  return undefined;
}

t.test('coin amounts convert exactly to base units', async (t) => {
  t.equal(parseCoins('1.5'), 150_000_000n);
  t.equal(parseCoins('0.00000001'), 1n);
  t.equal(parseCoins('1'), COIN);
  t.equal(parseCoins('0'), 0n);
  t.equal(parseCoins('0.1'), 10_000_000n, 'no floating-point error (0.1 is not exact in binary)');
  const whole = (MAX_MONEY / COIN).toString();
  t.equal(parseCoins(`${BigInt(whole) - 1n}.99999999`), MAX_MONEY - 1n, 'one base unit below the cap');
  t.equal(parseCoins(whole), MAX_MONEY, 'the cap itself');
  t.equal(parseCoins('123.45678901'), 12_345_678_901n);
});

t.test('coin amounts refuse negatives, more than 8 decimals, too much and garbage', async (t) => {
  for (const bad of ['-1', '+1', '1.123456789', '210000000.00000001', '99999999999999999999', 'abc', '', ' 1', '1 ', '1e5', '1.', '.5', '1,5', '0x10', '1.2.3', 'NaN', 'Infinity']) {
    const e = walletError(t, () => parseCoins(bad), 'bad-usage');
    t.equal(e?.exitCode, 2, `${JSON.stringify(bad)} is bad usage (exit 2)`);
  }
  t.match(walletError(t, () => parseCoins('1.123456789'), 'bad-usage')?.message, /more than 8 decimals/);
  t.match(walletError(t, () => parseCoins('-1'), 'bad-usage')?.message, /no sign/);
});

t.test('base units parse as integers; coins format without trailing zeros', async (t) => {
  t.equal(parseBaseUnits('150000000'), 150_000_000n);
  walletError(t, () => parseBaseUnits('1.5'), 'bad-usage');
  walletError(t, () => parseBaseUnits('-3'), 'bad-usage');
  t.equal(formatCoins(150_000_000n), '1.5');
  t.equal(formatCoins(1n), '0.00000001');
  t.equal(formatCoins(0n), '0');
  t.equal(formatCoins(50n * COIN), '50');
  for (const s of ['1.5', '0.00000001', '20999999.99999999', '7']) t.equal(formatCoins(parseCoins(s)), s, `round trip ${s}`);
});

t.test('a new key file has mode 0600, round-trips, and is never overwritten', async (t) => {
  const dir = t.testdir({});
  const file = join(dir, 'alice.key');
  const keys = createWalletFile(file);
  t.equal(statSync(file).mode & 0o777, 0o600);
  const json = JSON.parse(readFileSync(file, 'utf8'));
  t.same(Object.keys(json).sort(), ['publicKey', 'secretKey']);
  t.equal(json.publicKey, toHex(keys.publicKey));
  const read = readWalletFile(file);
  t.same(read.publicKey, keys.publicKey);
  t.same(read.secretKey, keys.secretKey);
  const before = readFileSync(file, 'utf8');
  walletError(t, () => createWalletFile(file), 'file-exists');
  t.equal(readFileSync(file, 'utf8'), before, 'the existing key is untouched');
});

t.test('a key file that group or others may access is refused', async (t) => {
  const dir = t.testdir({});
  const file = join(dir, 'k.key');
  createWalletFile(file);
  for (const mode of [0o644, 0o640, 0o604, 0o660]) {
    chmodSync(file, mode);
    const e = walletError(t, () => readWalletFile(file), 'insecure-key-file');
    t.match(e?.message, new RegExp(`mode 0${mode.toString(8)}.*chmod 600`));
  }
  chmodSync(file, 0o400);
  t.ok(readWalletFile(file), 'owner-only read access is fine');
});

t.test('missing and invalid key files are refused with a clear message', async (t) => {
  const dir = t.testdir({});
  t.match(walletError(t, () => readWalletFile(join(dir, 'none.key')), 'no-key-file')?.message, /cheesechain wallet new/);
  const garbage = join(dir, 'garbage.key');
  writeFileSync(garbage, 'not json', { mode: 0o600 });
  walletError(t, () => readWalletFile(garbage), 'bad-key-file');
  const mismatched = join(dir, 'mismatched.key');
  const a = generateKeyPair();
  const b = generateKeyPair();
  writeFileSync(mismatched, JSON.stringify({ publicKey: toHex(b.publicKey), secretKey: toHex(a.secretKey) }), { mode: 0o600 });
  t.match(walletError(t, () => readWalletFile(mismatched), 'bad-key-file')?.message, /does not belong/);
});

t.test('send signs for the network of /info with the pendingNonce of /accounts and posts /tx', async (t) => {
  const params = NETWORKS.regtest;
  const netId = networkId(params);
  const received: TransferTx[] = [];
  let refuseWith: SubmitResult | undefined;
  const api: CoreApi = {
    info: async () => ({
      network: 'regtest',
      networkId: hashToHex(netId),
      nodeId: 'n',
      height: 0,
      tip: hashToHex(blockHash(genesisBlock(params))),
      chainWork: '2',
      peers: 0,
      mempool: received.length,
      hashRate: 0,
      mining: false,
      blocksWon: 0,
      bestPeerHeight: 0,
      syncProgress: 1,
    }),
    blockByHash: async () => undefined,
    blockByHeight: async () => undefined,
    transaction: async () => undefined,
    account: async (key) => ({ key, balance: String(10n * COIN), nonce: 3, pendingNonce: 5 }),
    submitTransaction: async (json) => {
      if (refuseWith) return refuseWith;
      const tx = txFromJson(json);
      if (tx.type !== 'transfer') throw new Error('not a transfer');
      const v = checkTransfer(tx, netId);
      if (!v.ok) return { accepted: false, code: v.code, reason: v.reason };
      received.push(tx);
      return { accepted: true, txid: txid(tx) };
    },
    peers: async () => [],
    submitBlock: async () => ({ status: 'malformed', reason: 'this test serves no blocks' }),
  };
  const server = await startHttpApi(coreApiOnly(api), { port: 0, logger: pino({ level: 'silent' }) });
  t.teardown(() => server.close());

  const dir = t.testdir({});
  const keys = createWalletFile(join(dir, 'w.key'));
  const to = generateKeyPair().publicKey;
  const sent = await sendTransfer({ api: server.url, keys, to, amount: parseCoins('1.5'), fee: 1000n });
  t.equal(received.length, 1);
  const tx = received[0]!;
  t.equal(sent.txid, txid(tx));
  t.equal(sent.nonce, 5);
  t.equal(tx.nonce, 5, 'the nonce counts the mempool');
  t.equal(tx.amount, 150_000_000n);
  t.equal(tx.fee, 1000n);
  t.same(tx.sender, keys.publicKey);
  t.same(tx.recipient, to);
  t.ok(checkTransfer(tx, netId).ok, 'the signature verifies for the network id of /info');

  refuseWith = { accepted: false, code: 'insufficient-balance', reason: 'balance 0 < 1.5' };
  await t.rejects(sendTransfer({ api: server.url, keys, to, amount: 1n, fee: 0n }), { name: 'WalletError', code: 'ERR_WALLET', reason: 'rejected', message: /HTTP 409\): insufficient-balance: balance 0/ });

  // the command line, against the same server
  const cli = await runCli(['wallet', 'balance', '--file', join(dir, 'w.key'), '--api', server.url]);
  t.equal(cli.code, 0, cli.stderr);
  t.match(cli.stdout, /balance\s+10 coins \(1000000000 base units\)/);
  t.match(cli.stdout, /nonce\s+3 \(next 5 counting the mempool\)/);
  const json = await runCli(['wallet', 'balance', '--address', toHex(to), '--api', server.url, '--json']);
  t.equal(json.code, 0, json.stderr);
  t.equal(JSON.parse(json.stdout).coins, '10');
  const refused = await runCli(['wallet', 'send', '--file', join(dir, 'w.key'), '--to', toHex(to), '--amount', '1', '--api', server.url]);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /transaction rejected \(HTTP 409\): insufficient-balance/);
});

t.test('wallet commands: exit 0 on success, 1 on runtime failure, 2 on bad usage', async (t) => {
  const dir = t.testdir({});
  const made = await runCli(['wallet', 'new', '--file', 'me.key'], { cwd: dir });
  t.equal(made.code, 0, made.stderr);
  t.match(made.stdout, /^[0-9a-f]{64}\n$/);
  t.equal(statSync(join(dir, 'me.key')).mode & 0o777, 0o600);

  const addr = await runCli(['wallet', 'address', '--file', join(dir, 'me.key')]);
  t.equal(addr.stdout, made.stdout);

  const again = await runCli(['wallet', 'new', '--file', join(dir, 'me.key')]);
  t.equal(again.code, 1);
  t.match(again.stderr, /already exists; refusing to overwrite/);

  chmodSync(join(dir, 'me.key'), 0o644);
  const open = await runCli(['wallet', 'address', '--file', join(dir, 'me.key')]);
  t.equal(open.code, 1);
  t.match(open.stderr, /can be read by group or others \(mode 0644\)/);
  chmodSync(join(dir, 'me.key'), 0o600);

  const to = made.stdout.trim();
  const negative = await runCli(['wallet', 'send', '--file', join(dir, 'me.key'), '--to', to, '--amount', '-1']);
  t.equal(negative.code, 2);
  const tooFine = await runCli(['wallet', 'send', '--file', join(dir, 'me.key'), '--to', to, '--amount', '0.000000001']);
  t.equal(tooFine.code, 2);
  t.match(tooFine.stderr, /more than 8 decimals/);
  const badTo = await runCli(['wallet', 'send', '--file', join(dir, 'me.key'), '--to', 'nothex', '--amount', '1']);
  t.equal(badTo.code, 2);

  // nothing listens on port 1
  const down = await runCli(['wallet', 'balance', '--file', join(dir, 'me.key'), '--api', 'http://127.0.0.1:1']);
  t.equal(down.code, 1);
  t.match(down.stderr, /cannot reach the node API at http:\/\/127\.0\.0\.1:1/);
});
