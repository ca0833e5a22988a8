import t from 'tap';
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, MAIN, runCli } from '../cli/run-cli.js';

/*
 * `cheesechain switch` and `cheesechain senz` as a user runs them: compiled
 * entry point, real processes, UDP on 127.0.0.1 with a free port.
 */

t.test('a bad switch config exits 2 with one line naming the field', async (t) => {
  const r = await runCli(['switch', '--port', '99999']);
  t.equal(r.code, 2);
  t.match(r.stderr, /^cheesechain: invalid config: port: expected a port number.*got 99999 \(from --port\)\n$/);
  const dir = t.testdir({ 'sw.json': JSON.stringify({ keyType: 'dsa', ratePerSecnd: 5 }) });
  const bad = await runCli(['switch', '--config', join(dir, 'sw.json')]);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /keyType: expected one of rsa, ed25519, got "dsa"/);
  t.match(bad.stderr, /ratePerSecnd: unknown config field/);
});

t.test('the switch serves senz keygen and register, and stops cleanly on SIGTERM', async (t) => {
  const dir = t.testdir({});
  const sw = spawn(process.execPath, [MAIN, 'switch', '--port', '0', '--data-dir', join(dir, 'switch'), '--log-level', 'warn'], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => sw.kill('SIGKILL'));
  const exited = new Promise<number | null>((r) => sw.on('exit', (code) => r(code)));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    sw.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /listening on udp 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    sw.on('exit', () => reject(new Error(`switch exited: ${out}`)));
  });
  t.ok(statSync(join(dir, 'switch', 'switch.key')).mode & 0o600, 'the switch key exists');
  t.equal(statSync(join(dir, 'switch', 'switch.key')).mode & 0o077, 0, 'readable by its owner only');

  const key = join(dir, 'alice.pem');
  const gen = await runCli(['senz', 'keygen', '--name', 'alice', '--key', key]);
  t.equal(gen.code, 0, gen.stderr);
  t.match(gen.stdout, /\(ed25519, mode 0600\)/);
  t.match(gen.stdout, /address  [0-9a-f]{64}/, 'an ed25519 key is a chain address');
  t.equal(statSync(key).mode & 0o077, 0);
  const again = await runCli(['senz', 'keygen', '--name', 'alice', '--key', key]);
  t.equal(again.code, 1);
  t.match(again.stderr, /already exists; refusing to overwrite/);

  const reg = await runCli(['senz', 'register', '--name', 'alice', '--key', key, '--switch', `127.0.0.1:${port}`]);
  t.equal(reg.code, 0, reg.stderr);
  t.match(reg.stdout, /registered alice on mysensors/);
  const noService = await runCli(['senz', 'value', '--name', 'alice', '--key', key, '--switch', `127.0.0.1:${port}`, '--timeout', '3000']);
  t.equal(noService.code, 1, 'no coin service registered');
  t.match(noService.stderr, /the switch answered UnknownReceiver for coins/);

  sw.kill('SIGTERM');
  t.equal(await exited, 0, 'clean exit');
});
