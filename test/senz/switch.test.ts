import t from 'tap';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { attributeValue } from '../../src/senz/grammar.js';
import { SenzClient } from '../../src/senz/client.js';
import { generateSenzKey, publicKeyBase64, sealSenz } from '../../src/senz/keys.js';
import { SenzSwitch, type SwitchOptions } from '../../src/senz/switch.js';

/*
 * The switch on real UDP sockets on 127.0.0.1, its users in LMDB in a
 * temporary folder. The first test runs the Python client written from the
 * issue's description (standard library + cryptography).
 */

const PY_CLIENT = fileURLToPath(new URL('../../../test/senz/senz_client.py', import.meta.url));

async function startSwitch(t: Tap.Test, o: Partial<SwitchOptions> = {}): Promise<SenzSwitch> {
  const sw = new SenzSwitch({ dataDir: t.testdir({}), port: 0, keyType: 'ed25519', ...o });
  await sw.start();
  t.teardown(() => sw.stop());
  return sw;
}

async function client(t: Tap.Test, sw: SenzSwitch, name: string, type: 'rsa' | 'ed25519' = 'ed25519'): Promise<SenzClient> {
  const c = await SenzClient.open({ name, key: generateSenzKey(type, 1024), switchHost: '127.0.0.1', switchPort: sw.port });
  t.teardown(() => c.close());
  return c;
}

t.test('a Python client written from the description registers with RSA and meets every rule', async (t) => {
  const sw = await startSwitch(t, { keyType: 'rsa' });
  const child = spawn('python3', [PY_CLIENT, '127.0.0.1', String(sw.port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  const steps = out
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { step: string; ok: boolean; detail: string });
  t.ok(steps.length >= 20, `the scenario ran (${steps.length} steps)${err ? `; stderr: ${err}` : ''}`);
  for (const s of steps) t.ok(s.ok, s.step, { detail: s.detail });
  t.equal(code, 0);
  t.equal(sw.stats.replayed, 1, 'the replay was counted');
  t.equal(sw.stats.malformed, 5);
});

t.test('a datagram over the size limit is dropped unread', async (t) => {
  const sw = await startSwitch(t, { maxDatagramBytes: 300 });
  const alice = await client(t, sw, 'alice');
  await alice.register();
  const dropped = new Promise((r) => sw.once('outcome', r));
  alice.sendRaw('DATA #msg ' + 'x'.repeat(400) + ' ^alice c2ln');
  t.equal(await dropped, 'oversize');
  const r = await alice.request('GET #pubkey @alice', (r) => r.switchSigned);
  t.equal(attributeValue(r.msg, 'name'), 'alice', 'the next message is answered');
  t.equal(sw.stats.oversize, 1);
  t.equal(sw.stats.malformed, 0);
});

t.test('datagrams from an address over its rate are dropped before parsing', async (t) => {
  const sw = await startSwitch(t, { ratePerSecond: 0.001, rateBurst: 3 });
  const alice = await client(t, sw, 'alice');
  await alice.register();
  const outcomes: string[] = [];
  const five = new Promise<void>((resolve) =>
    sw.on('outcome', (o) => {
      outcomes.push(o);
      if (outcomes.length === 5) resolve();
    }),
  );
  for (let i = 0; i < 5; i++) alice.sendRaw('HELLO');
  await five;
  t.equal(sw.stats.rateLimited, 3, 'the burst of 3 is spent by registration and two datagrams');
  t.equal(sw.stats.malformed, 2);
  t.same(outcomes, ['malformed', 'malformed', 'rateLimited', 'rateLimited', 'rateLimited']);
});

t.test('registrations per address are capped', async (t) => {
  const sw = await startSwitch(t, { maxUsersPerAddress: 2 });
  await (await client(t, sw, 'u1')).register();
  await (await client(t, sw, 'u2')).register();
  await t.rejects((await client(t, sw, 'u3')).register(), /too-many-users/);
  t.equal(sw.stats.users, 2);
});

t.test('a message without #time is refused when time is required, accepted when not', async (t) => {
  const strict = await startSwitch(t);
  const key = generateSenzKey('ed25519');
  const c = await SenzClient.open({ name: 'alice', key, switchHost: '127.0.0.1', switchPort: strict.port });
  t.teardown(() => c.close());
  await c.register();
  const timeless = sealSenz('GET #pubkey @alice', 'alice', key.privateKey);
  const reply = c.waitFor((r) => r.switchSigned);
  c.sendRaw(timeless);
  const r = await reply;
  t.equal(attributeValue(r.msg, 'msg'), 'BadTime');
  t.equal(attributeValue(r.msg, 'reason'), 'missing');

  const lax = await startSwitch(t, { requireTime: false });
  const key2 = generateSenzKey('ed25519');
  const c2 = await SenzClient.open({ name: 'bob', key: key2, switchHost: '127.0.0.1', switchPort: lax.port });
  t.teardown(() => c2.close());
  await c2.register();
  const answer = c2.waitFor((r) => r.switchSigned);
  c2.sendRaw(sealSenz('GET #pubkey @bob', 'bob', key2.privateKey));
  t.equal(attributeValue((await answer).msg, 'name'), 'bob');
});

t.test('registered users are pinged', async (t) => {
  const sw = await startSwitch(t, { pingIntervalMs: 30 });
  const key = generateSenzKey('ed25519');
  const sock = createSocket('udp4');
  t.teardown(() => sock.close());
  const pinged = new Promise<string>((resolve) => sock.on('message', (d) => d.toString() === 'PING' && resolve('PING')));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const reg = sealSenz(`SHARE #pubkey ${publicKeyBase64(key.publicKey)} #time ${(Date.now() / 1000).toFixed(3)} @mysensors`, 'pinged', key.privateKey);
  sock.send(reg, sw.port, '127.0.0.1');
  t.equal(await pinged, 'PING');
});

t.test('users and sharing rules survive a restart of the switch', async (t) => {
  const dir = t.testdir({});
  const first = new SenzSwitch({ dataDir: dir, port: 0, keyType: 'ed25519' });
  await first.start();
  const aliceKey = generateSenzKey('ed25519');
  const bobKey = generateSenzKey('ed25519');
  const alice1 = await SenzClient.open({ name: 'alice', key: aliceKey, switchHost: '127.0.0.1', switchPort: first.port });
  const bob1 = await SenzClient.open({ name: 'bob', key: bobKey, switchHost: '127.0.0.1', switchPort: first.port });
  await alice1.register();
  await bob1.register();
  alice1.send('SHARE #lat @bob');
  await bob1.waitFor((r) => r.msg.sender === 'alice');
  const switchKey = first.publicKey.pem;
  await first.stop();
  await alice1.close();
  await bob1.close();

  const second = new SenzSwitch({ dataDir: dir, port: 0 });
  await second.start();
  t.teardown(() => second.stop());
  t.equal(second.publicKey.pem, switchKey, 'the switch keeps its key');
  t.equal(second.stats.users, 2);
  const alice = await SenzClient.open({ name: 'alice', key: aliceKey, switchHost: '127.0.0.1', switchPort: second.port });
  const bob = await SenzClient.open({ name: 'bob', key: bobKey, switchHost: '127.0.0.1', switchPort: second.port });
  t.teardown(() => alice.close());
  t.teardown(() => bob.close());
  t.equal(await alice.register(), 'ALREADY_REGISTERED');
  t.equal(await bob.register(), 'ALREADY_REGISTERED');
  const put = bob.send('PUT #lat 7 @alice');
  t.equal((await alice.waitFor((r) => r.msg.sender === 'bob')).raw, put, 'the sharing rule still allows the PUT');
});
