import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from 'nats';
import { generateKeyPair, keyPairFromSeed } from '../../src/core/ed25519.js';
import { toHex } from '../../src/core/encoding.js';
import { networkId, networkParams } from '../../src/core/genesis.js';
import { signTransfer, txid, txToJson } from '../../src/core/transaction.js';
import { NatsRequestError, requestNode } from '../../src/nats/client.js';
import { startNode, type RunningNode } from '../../src/node/node.js';
import { freePort, NatsServer, trackChild } from '../helpers/nats-server.js';
import { collect, memoryLogger, regtestConfig, tempDir, withTimeout, WAIT_MS } from './fixtures.js';
import { natsNodeDeps } from '../../src/nats/node-wiring.js';

/*
 * Federation end to end: a peer that does not mine
 * itself (mining.enabled false, nats configured → its NatsFarmMiner) and a
 * real `cheesechain miner` child process, both started while the NATS server
 * is down. The server comes up, blocks flow; the server stops mid-run
 * (requests time out, a transfer submitted meanwhile waits in the bridge's
 * buffer and the mempool); it restarts on the same port and the peer, the
 * watcher and the farm recover by themselves.
 */

const NODE = 'peer-r';
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const params = networkParams('regtest');
const minerKey = keyPairFromSeed(new Uint8Array(32).fill(9));

interface MinerProc {
  child: ChildProcess;
  lines: Array<{ msg?: string }>;
  waitFor: (msg: string, after?: number) => Promise<void>;
  exited: Promise<number | null>;
}

function spawnMiner(url: string): MinerProc {
  const child = spawn(process.execPath, [MAIN, 'miner', '--nats', url, '--network', 'regtest', '--workers', '1', '--id', 'remote-1', '--log-level', 'debug'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines: Array<{ msg?: string }> = [];
  const waiters: Array<{ msg: string; after: number; resolve: () => void }> = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    let rec: { msg?: string };
    try {
      rec = JSON.parse(line);
    } catch {
      rec = { msg: line };
    }
    lines.push(rec);
    for (const w of [...waiters]) {
      if (rec.msg === w.msg && lines.length > w.after) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  trackChild(child);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = (msg: string, after = 0) => {
    if (lines.slice(after).some((l) => l.msg === msg)) return Promise.resolve();
    return withTimeout(new Promise<void>((resolve) => waiters.push({ msg, after, resolve })), WAIT_MS, `miner log "${msg}"`);
  };
  return { child, lines, waitFor, exited };
}

t.test('peer and farm start while NATS is down, survive a server restart, and lose nothing', async (t) => {
  const port = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  const dir = tempDir('nats-resilience');
  t.teardown(dir.cleanup);
  const log = memoryLogger();

  // 1. Everything starts while the server is down.
  const node: RunningNode = await withTimeout(
    startNode(regtestConfig(dir.path, NODE, url, { mining: { enabled: false, workers: 1, address: toHex(minerKey.publicKey) } }), { logger: log.logger, ...natsNodeDeps }),
    WAIT_MS,
    'startNode with NATS down',
  );
  t.teardown(() => node.stop());
  const miner = spawnMiner(url);
  t.teardown(async () => {
    miner.child.kill('SIGKILL');
    await miner.exited;
  });
  await log.waitFor('NATS server unreachable; retrying in the background');
  await miner.waitFor('NATS server unreachable; retrying in the background');
  t.match(await node.api.info(), { height: 0, mining: true }, 'the peer works without NATS');

  // 2. The server comes up: the peer and the miner connect; blocks flow.
  const server = await NatsServer.start(port);
  t.teardown(() => server.stop());
  const nc: NatsConnection = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 50 });
  t.teardown(() => nc.close());
  const events = collect(nc, `cheesechain.regtest.${NODE}.evt.>`);
  const blocks = () => events.all.filter((r) => r.json.event === 'block.connected');
  await withTimeout(log.waitFor('NATS connected'), WAIT_MS, 'peer connected');
  await miner.waitFor('NATS connected');
  await events.next((r) => r.json.event === 'block.connected' && r.json.data.height >= 3, 'three farm blocks');
  for (const b of blocks()) t.equal(b.json.data.miner, toHex(minerKey.publicKey), `block ${b.json.data.height} pays the peer`);
  const started = events.all.find((r) => r.json.event === 'status' && r.json.data.state === 'started');
  t.ok(started, 'the status published while NATS was down was buffered and delivered');
  t.match(await requestNode(nc, 'regtest', NODE, 'info', {}), { ok: true, result: { mining: true } });

  // 3. The server stops mid-run.
  const minerLinesBefore = miner.lines.length;
  const disconnectsBefore = log.records.length;
  await server.stop();
  // Both links of the peer (bridge and farm) noticed.
  await log.waitUntil(
    (rs) => ['nats-bridge', 'nats-farm'].every((c) => rs.slice(disconnectsBefore).some((r) => r.msg === 'NATS disconnected; reconnecting' && r['component'] === c)),
    'bridge and farm disconnected',
  );
  await miner.waitFor('NATS disconnected; reconnecting', minerLinesBefore);
  const heightAtOutage = (await node.api.info()).height;
  const err = await requestNode(nc, 'regtest', NODE, 'info', {}, 1_000).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.type(err, NatsRequestError, 'a request during the outage fails with a typed error');
  t.equal((err as NatsRequestError).reason, 'timeout');
  t.equal((err as NatsRequestError).code, 'ERR_NATS_REQUEST_TIMEOUT');
  const bob = generateKeyPair();
  const tx = signTransfer(networkId(params), { recipient: bob.publicKey, amount: 777n, fee: 200n, nonce: 0 }, minerKey.secretKey);
  t.match(await node.api.submitTransaction(txToJson(tx)), { accepted: true }, 'the peer accepts a transfer during the outage');

  // 4. The server restarts on the same port: everyone reconnects by themselves.
  const reconnectsFrom = log.records.length;
  await server.restart();
  await log.waitUntil(
    (rs) => ['nats-bridge', 'nats-farm'].every((c) => rs.slice(reconnectsFrom).some((r) => r.msg === 'NATS reconnected' && r['component'] === c)),
    'bridge and farm reconnected',
  );
  await miner.waitFor('NATS reconnected', minerLinesBefore);
  const accepted = await events.next((r) => r.json.event === 'tx.accepted' && r.json.data.txid === txid(tx), 'the buffered tx.accepted');
  t.equal(accepted.json.data.amount, '777');
  await events.next((r) => r.json.event === 'status' && r.json.data.state === 'online' && r.json.data.reconnect === true, 'online after reconnect');
  const resumed = await events.next((r) => r.json.event === 'block.connected' && r.json.data.height > heightAtOutage + 2, 'farm blocks after the restart');
  t.ok(resumed, `the farm resumed after height ${heightAtOutage}`);
  const confirmed = await withTimeout(
    (async () => {
      for (;;) {
        const r = await requestNode(nc, 'regtest', NODE, 'tx', { txid: txid(tx) });
        if (r.ok && r.result.status === 'confirmed') return r.result;
        await new Promise((res) => setTimeout(res, 100));
      }
    })(),
    WAIT_MS,
    'the transfer confirmed',
  );
  t.ok(confirmed.height! > heightAtOutage, 'the transfer submitted during the outage was mined after it');

  // 5. Nothing lost or duplicated: a contiguous chain with the transfer exactly once.
  const tip = (await node.api.info()).height;
  let prev: string | undefined;
  let seen = 0;
  for (let h = 1; h <= tip; h++) {
    const view = await node.api.blockByHeight(h);
    t.ok(view, `block ${h} exists`);
    if (!view) break;
    if (prev) t.equal(view.block.header.prevHash, prev, `block ${h} links to block ${h - 1}`);
    prev = view.hash;
    seen += view.block.transactions.filter((x) => (x as { signature?: string }).signature === (txToJson(tx) as { signature?: string }).signature).length;
  }
  t.equal(seen, 1, 'the transfer is in exactly one block');
  // Events: at least once across the outage (a replayed event keeps its seq), none lost.
  await events.next((r) => r.json.event === 'block.connected' && r.json.data.height === tip, `block.connected ${tip}`);
  const seqsByHeight = new Map<number, Set<number>>();
  for (const b of blocks()) seqsByHeight.set(b.json.data.height, (seqsByHeight.get(b.json.data.height) ?? new Set()).add(b.json.seq));
  t.same([...seqsByHeight.keys()].filter((h) => h <= tip).sort((a, b) => a - b), Array.from({ length: tip }, (_, i) => i + 1), 'a block.connected event for every height');
  t.ok([...seqsByHeight.values()].every((seqs) => seqs.size === 1), 'each block was announced once (repeats carry the same seq)');
  t.match(await requestNode(nc, 'regtest', NODE, 'account', { key: toHex(bob.publicKey) }), { ok: true, result: { balance: '777' } });

  miner.child.kill('SIGTERM');
  t.equal(await miner.exited, 0, 'the miner process stops cleanly on SIGTERM');
  t.ok(miner.lines.some((l) => l.msg === 'remote miner stopped'));
});
