import t from 'tap';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connect } from 'nats';
import { EventBus } from '../../src/actors/events.js';
import { formatAmount, formatEventLine, formatMessage } from '../../src/cli/watch-command.js';
import { startNatsBridge } from '../../src/nats/bridge.js';
import { eventMessage } from '../../src/nats/codec.js';
import type { NodeApi } from '../../src/node/node-api.js';
import { NatsServer, trackChild } from '../helpers/nats-server.js';
import { memoryLogger, withTimeout, WAIT_MS } from './fixtures.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const origin = { network: 'devnet', nodeId: 'peer1', seq: 1, time: Date.UTC(2025, 0, 2, 3, 4, 5) };

t.test('one readable line per event', async (t) => {
  const hash = '00000a1b2c3d4e5f' + '0'.repeat(40) + '99887766';
  t.equal(
    formatEventLine(eventMessage('block.connected', { hash, height: 12, prevHash: hash, time: 1, bits: 1, txCount: 3, size: 1234, miner: 'ab'.repeat(32), reward: '5000000010' }, origin)),
    '2025-01-02T03:04:05.000Z devnet peer1 block.connected   height=12 hash=00000a1b…99887766 txs=3 size=1234B miner=abababab…abababab reward=50.0000001',
  );
  t.match(formatEventLine(eventMessage('tip', { hash, height: 12, chainWork: 'ff', previous: { hash, height: 13 }, reorgDepth: 2 }, origin)), /tip +height=12 hash=00000a1b…99887766 previous=13 reorg=2$/);
  t.match(formatEventLine(eventMessage('peer.banned', { peer: 'x', host: '10.0.0.1', reason: 'bad block', until: origin.time }, origin)), /peer.banned +peer=x host=10.0.0.1 reason="bad block" until=2025-01-02T03:04:05.000Z/);
  t.match(formatEventLine(eventMessage('mining.stats', { hashRate: 2_500_000, workers: 2, blocksWon: 4 }, origin)), /hashRate=2.50 MH\/s workers=2 blocksWon=4/);
  t.match(formatEventLine(eventMessage('status', { state: 'online', height: 3, tip: hash, reconnect: true }, origin)), /status +online height=3 tip=00000a1b…99887766 \(reconnected\)/);
  t.equal(formatAmount('100000000'), '1');
  t.equal(formatAmount('1'), '0.00000001');
  t.equal(formatMessage('x.y', new TextEncoder().encode('{"a":1}'), false), 'x.y {"a":1}', 'other messages print raw');
  t.equal(formatMessage('x.y', new Uint8Array([0xff]), false), 'x.y <1 bytes, not JSON>');
  t.equal(formatMessage('x.y', new TextEncoder().encode('{"a":1}'), true), '{"subject":"x.y","a":1}');
});

t.test('`cheesechain watch` prints the events a bridge publishes', async (t) => {
  const server = await NatsServer.start();
  t.teardown(() => server.stop());
  const child = spawn(process.execPath, [MAIN, 'watch', '--nats', server.url, '--network', 'devnet'], { stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(async () => {
    child.kill('SIGKILL');
    await exited;
  });
  const lines: string[] = [];
  const seen = new Promise<void>((resolve) =>
    createInterface({ input: child.stdout! }).on('line', (l) => {
      lines.push(l);
      if (l.includes('tx.evicted')) resolve();
    }),
  );
  const ready = new Promise<void>((resolve) =>
    createInterface({ input: child.stderr! }).on('line', (l) => {
      if (l.startsWith('# watching')) resolve();
    }),
  );
  await withTimeout(ready, WAIT_MS, 'watch subscribed');
  // The watcher's SUB reaches the server before a message published after this round trip.
  const probe = await connect({ servers: server.url });
  await probe.flush();
  await probe.close();

  const bus = new EventBus();
  const api = { info: async () => ({ height: 0, tip: '00'.repeat(32) }) } as unknown as NodeApi;
  const bridge = await startNatsBridge({ url: server.url, network: 'devnet', nodeId: 'peer9', bus, api, logger: memoryLogger().logger });
  t.teardown(() => bridge.stop());
  bus.publish({ type: 'peer-connected', nodeId: 'peer2', host: '127.0.0.1', port: 18330, direction: 'outbound' });
  bus.publish({ type: 'tx-evicted', txid: 'cd'.repeat(32), reason: 'expired' });
  await withTimeout(seen, WAIT_MS, 'the tx.evicted line');
  t.ok(lines.some((l) => / devnet peer9 peer.connected +peer=peer2 127.0.0.1:18330 outbound$/.test(l)), lines.join('\n'));
  t.ok(lines.some((l) => / devnet peer9 tx.evicted +txid=cdcdcdcd…cdcdcdcd reason=expired$/.test(l)));
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'watch exits 0 on SIGTERM');
});
