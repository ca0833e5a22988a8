import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { EventEmitter } from 'node:events';
import { COIN, NETWORKS, blockReward } from '../../src/core/params.js';
import type { AccountView, NodeInfo, TransactionView } from '../../src/node/node-api.js';
import { MAIN, cleanEnv, runCli } from './run-cli.js';

/*
 * The wallet end to end: a wallet sends coins from the mining address to a new
 * key; after the next block both balances show it. Everything is real: the
 * `cheesechain node` process (regtest, mining with a worker thread, LMDB in a
 * temporary folder), its HTTP API, and `cheesechain wallet` processes.
 */

interface LogLine {
  msg?: string;
  port?: number;
  height?: number;
}

interface Peer {
  child: ChildProcess;
  api: string;
  /** Emits 'line' for every JSON log line. */
  log: EventEmitter;
  exit: Promise<number | null>;
}

async function startPeer(t: Test, args: string[]): Promise<Peer> {
  const child = spawn(process.execPath, [MAIN, 'node', ...args], { env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const log = new EventEmitter();
  createInterface({ input: child.stderr! }).on('line', (line) => {
    try {
      log.emit('line', JSON.parse(line) as LogLine);
    } catch {
      log.emit('text', line);
    }
  });
  const listening = new Promise<number>((resolve, reject) => {
    log.on('line', (l: LogLine) => {
      if (l.msg === 'http api listening' && typeof l.port === 'number') resolve(l.port);
    });
    void exit.then((code) => reject(new Error(`peer exited with ${code} before its API listened`)));
  });
  const port = await listening;
  return { child, api: `http://127.0.0.1:${port}`, log, exit };
}

async function get<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

/** Resolves when `txid` is in a main-chain block: checked after every block the peer logs. */
function confirmed(peer: Peer, txid: string): Promise<TransactionView> {
  return new Promise((resolve, reject) => {
    let checking = false;
    const check = async (l: LogLine): Promise<void> => {
      if (l.msg !== 'block connected' || checking) return;
      checking = true;
      try {
        const res = await fetch(`${peer.api}/tx/${txid}`);
        if (res.ok) {
          const view = (await res.json()) as TransactionView;
          if (view.status === 'confirmed') {
            peer.log.off('line', check);
            resolve(view);
          }
        }
      } catch (err) {
        peer.log.off('line', check);
        reject(err);
      } finally {
        checking = false;
      }
    };
    peer.log.on('line', check);
  });
}

/** Resolves with the first log line that matches; rejects if the peer exits first. */
function nextLine(peer: Peer, match: (l: LogLine) => boolean): Promise<LogLine> {
  return new Promise((resolve, reject) => {
    const onLine = (l: LogLine): void => {
      if (!match(l)) return;
      peer.log.off('line', onLine);
      resolve(l);
    };
    peer.log.on('line', onLine);
    void peer.exit.then((code) => reject(new Error(`peer exited with ${code}`)));
  });
}

t.test('a wallet sends from the mining key to new keys; after the next block the balances show it', async (t) => {
  const dir = t.testdir({});
  const dataDir = join(dir, 'data');
  const configFile = join(dir, 'regtest.json');
  writeFileSync(
    configFile,
    JSON.stringify({ network: 'regtest', dataDir: 'data', listen: { port: 0 }, api: { port: 0 }, mining: { enabled: true, workers: 1 }, log: { level: 'info' } }),
  );

  const miner = await startPeer(t, ['--config', configFile]);
  // the mining key has coins once the first block is connected
  await nextLine(miner, (l) => l.msg === 'block connected');

  const minerKey = join(dataDir, 'miner.key');
  const alice = (await runCli(['wallet', 'new', '--file', join(dir, 'alice.key')])).stdout.trim();
  const bob = (await runCli(['wallet', 'new', '--file', join(dir, 'bob.key')])).stdout.trim();
  t.match(alice, /^[0-9a-f]{64}$/);
  const minerAddress = (await runCli(['wallet', 'address', '--file', minerKey])).stdout.trim();
  t.equal((await get<NodeInfo>(`${miner.api}/info`)).miningAddress, minerAddress, 'the key file in the data folder is the mining key');

  // 1. from the mining key to alice, with the default fee
  const send1 = await runCli(['wallet', 'send', '--file', minerKey, '--to', alice, '--amount', '10', '--api', miner.api, '--json']);
  t.equal(send1.code, 0, send1.stderr);
  const tx1 = JSON.parse(send1.stdout) as { txid: string; fee: string; amount: string };
  t.equal(tx1.amount, String(10n * COIN));
  const conf1 = await confirmed(miner, tx1.txid);
  t.ok(conf1.height! >= 1);

  // 2. from alice (who never mines, so her balance is exact) to bob
  const send2 = await runCli(['wallet', 'send', '--file', join(dir, 'alice.key'), '--to', bob, '--amount', '1.5', '--fee', '0.00001', '--api', miner.api]);
  t.equal(send2.code, 0, send2.stderr);
  const tx2 = send2.stdout.trim();
  t.match(tx2, /^[0-9a-f]{64}$/);
  await confirmed(miner, tx2);

  const bobBalance = await runCli(['wallet', 'balance', '--address', bob, '--api', miner.api, '--json']);
  t.equal(bobBalance.code, 0, bobBalance.stderr);
  t.same(JSON.parse(bobBalance.stdout), { key: bob, balance: '150000000', nonce: 0, pendingNonce: 0, coins: '1.5' });
  const aliceAccount = await get<AccountView>(`${miner.api}/accounts/${alice}`);
  t.same(aliceAccount, { key: alice, balance: String(10n * COIN - 150_000_000n - 1000n), nonce: 1, pendingNonce: 1 });

  // SIGTERM stops the peer cleanly
  miner.child.kill('SIGTERM');
  t.equal(await miner.exit, 0, 'SIGTERM exits 0');

  // restarted without mining, the peer continues from its stored tip; the mining key's balance adds up
  const again = await startPeer(t, ['--config', configFile, '--no-mine']);
  const info = await get<NodeInfo>(`${again.api}/info`);
  t.ok(info.height >= conf1.height!, `restarted at height ${info.height}`);
  t.equal(info.mining, false);
  let rewards = 0n;
  for (let h = 1; h <= info.height; h++) rewards += blockReward(NETWORKS.regtest, h);
  const minerAccount = await get<AccountView>(`${again.api}/accounts/${minerAddress}`);
  // every coinbase pays the mining key (rewards + both fees); it sent 10 coins + a 1000 base-unit fee
  t.equal(minerAccount.balance, String(rewards + 1000n + 1000n - 10n * COIN - 1000n));
  t.equal(minerAccount.nonce, 1);
  t.equal((await get<AccountView>(`${again.api}/accounts/${bob}`)).balance, '150000000', 'balances survive the restart');

  again.child.kill('SIGINT');
  t.equal(await again.exit, 0, 'SIGINT exits 0');
});
