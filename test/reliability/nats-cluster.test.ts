/**
 * A NATS cluster of three real `nats-server`s joined by routes, and a real
 * mining `cheesechain node` process told of one of them only: it learns the
 * others from the cluster (nats.js takes the servers' `connect_urls`), and
 * when that server is killed with SIGKILL mid-run it reconnects to another;
 * a watcher on a third server sees the node's events keep flowing, every
 * block height announced, none lost across the failover.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { freePort, NatsServer, trackChild } from '../helpers/nats-server.js';
import { collect, tempDir, withTimeout } from '../nats/fixtures.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const NODE = 'cluster-peer';
/** Longest wait for one step (a process start on a loaded machine takes seconds), ms. */
const STEP_MS = 45_000;
/** Blocks the watcher must see announced after the kill. */
const BLOCKS_AFTER_KILL = 3;

t.test('events keep flowing through a 3-server NATS cluster while the server the node used is killed', async (t) => {
  // Three servers, each routing to the other two.
  const clusterPorts = [await freePort(), await freePort(), await freePort()];
  const servers: NatsServer[] = [];
  for (let i = 0; i < 3; i++) {
    const routes = clusterPorts.filter((_, j) => j !== i).map((p) => `nats://127.0.0.1:${p}`);
    const server = await NatsServer.start(undefined, ['--name', `cc-nats-${i}`, '--cluster_name', 'cheesechain-test', '--cluster', `nats://127.0.0.1:${clusterPorts[i]}`, '--routes', routes.join(',')]);
    t.teardown(() => server.stop());
    servers.push(server);
  }
  const [a, b, c] = servers as [NatsServer, NatsServer, NatsServer];

  // The routes are up once a message published on A reaches a subscriber on C (and one on B reaches A).
  const watcher: NatsConnection = await connect({ servers: c.url, maxReconnectAttempts: -1, reconnectTimeWait: 50 });
  t.teardown(() => watcher.close());
  const probeA: NatsConnection = await connect({ servers: a.url });
  const probeB: NatsConnection = await connect({ servers: b.url });
  t.teardown(() => probeA.close());
  t.teardown(() => probeB.close());
  const routed = async (from: NatsConnection, to: NatsConnection, subject: string): Promise<void> => {
    const got = collect(to, subject);
    await to.flush();
    for (let i = 0; i < 200 && got.all.length === 0; i++) {
      from.publish(subject, new TextEncoder().encode('{}'));
      await from.flush();
      await got.next(() => true, 'a routed message', 50).catch(() => undefined);
    }
    got.sub.unsubscribe();
    t.ok(got.all.length > 0, `the cluster routes ${subject}`);
  };
  await routed(probeA, watcher, 'cc.test.route.ac');
  await routed(probeB, probeA, 'cc.test.route.ba');
  await routed(probeA, probeB, 'cc.test.route.ab');

  // A real mining node, told of server A only.
  const dir = tempDir('nats-cluster');
  t.teardown(dir.cleanup);
  const configPath = join(dir.path, 'node.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      network: 'regtest',
      dataDir: join(dir.path, 'data'),
      nodeId: NODE,
      listen: { host: '127.0.0.1', port: 0 },
      api: { enabled: false },
      mining: { enabled: true, workers: 1, chunkMs: 20 },
      nats: { url: a.url, farm: false },
      log: { level: 'info' },
    }),
  );
  const events = collect(watcher, `cheesechain.regtest.${NODE}.evt.>`);
  await watcher.flush();
  const child = trackChild(spawn(process.execPath, [MAIN, 'node', '--config', configPath], { stdio: ['ignore', 'ignore', 'pipe'] }));
  const exited = once(child, 'exit');
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  const logs: Array<{ msg?: string; server?: string }> = [];
  const logWaiters: Array<() => void> = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    try {
      logs.push(JSON.parse(line));
    } catch {
      logs.push({ msg: line });
    }
    for (const w of logWaiters.splice(0)) w();
  });
  const logged = (pred: (r: { msg?: string; server?: string }) => boolean, what: string, from = 0): Promise<{ msg?: string; server?: string }> =>
    withTimeout(
      (async () => {
        for (;;) {
          const hit = logs.slice(from).find(pred);
          if (hit) return hit;
          await new Promise<void>((r) => logWaiters.push(r));
        }
      })(),
      STEP_MS,
      what,
    );
  const blockAt = (h: number) => events.next((r) => r.json.event === 'block.connected' && r.json.data.height >= h, `block.connected at height ${h} or above`, STEP_MS);
  await logged((r) => r.msg === 'NATS connected', 'the node connected to NATS');
  await blockAt(3);

  // Kill the server the node is connected to; the others carry on.
  const logsBefore = logs.length;
  const heightAtKill = Math.max(...events.all.filter((r) => r.json.event === 'block.connected').map((r) => r.json.data.height as number));
  await a.kill();
  const reconnected = await logged((r) => r.msg === 'NATS reconnected', 'the node reconnected to another server of the cluster', logsBefore);
  t.notOk(String(reconnected.server).endsWith(`:${a.port}`), `the node now uses another server of the cluster (${reconnected.server}), learnt from the cluster: its config names A only`);
  const last = await blockAt(heightAtKill + BLOCKS_AFTER_KILL);
  const tip = last.json.data.height as number;
  t.ok(tip >= heightAtKill + BLOCKS_AFTER_KILL, `blocks kept coming through the cluster after the kill at height ${heightAtKill} (now ${tip})`);

  // Every height up to the tip was announced (events sent while the link was down are buffered and replayed, in order).
  const heights = new Set(events.all.filter((r) => r.json.event === 'block.connected').map((r) => r.json.data.height as number));
  const missing = Array.from({ length: tip }, (_, i) => i + 1).filter((h) => !heights.has(h));
  t.same(missing, [], `a block.connected event for every height 1 … ${tip}, none lost across the failover`);

  child.kill('SIGTERM');
  const [code] = await exited;
  t.equal(code, 0, 'the node stops cleanly with server A gone');
});
