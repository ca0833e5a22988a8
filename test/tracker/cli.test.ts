import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { ConfigError } from '../../src/config/load.js';
import { loadTrackerConfig } from '../../src/cli/tracker-command.js';
import { joinTracker } from '../../src/tracker/client.js';
import { closedPort } from './helpers.js';

/* `cheesechain tracker --config FILE`: config validation (exit 2) and a real run stopped by SIGTERM. */

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const SHIPPED = fileURLToPath(new URL('../../../config/tracker.json', import.meta.url));
const DEVNET = fileURLToPath(new URL('../../../config/devnet/tracker.json', import.meta.url));

t.test('the shipped configs load; defaults fill what a file leaves out', async (t) => {
  const c = loadTrackerConfig({ config: SHIPPED });
  t.match(c, { host: '127.0.0.1', port: 9999, peerPort: 9998, network: 'devnet', helloIntervalMs: 5000, helloTimeoutMs: 2000, log: { level: 'info' } });
  t.match(loadTrackerConfig({ config: DEVNET }), { port: 9999, network: 'devnet' });
  t.match(loadTrackerConfig({}), { host: '127.0.0.1', port: 9999, peerPort: 9998, maxMembers: 10000, maxMembersPerSource: 8, maxConnectionsPerSource: 8, maxProbesPerRound: 1000, localRanges: [] });
  t.match(loadTrackerConfig({ config: SHIPPED, port: '19999', host: '0.0.0.0', peerPort: '0', logLevel: 'debug' }), { port: 19999, host: '0.0.0.0', peerPort: 0, log: { level: 'debug' } }, 'flags override the file');
});

t.test('bad configs throw a ConfigError naming each field', async (t) => {
  const dir = t.testdir({
    'typo.json': JSON.stringify({ prot: 9999 }),
    'types.json': JSON.stringify({ port: '9999', helloIntervalMs: 5, log: { level: 'loud' }, network: 'moon', maxMembersPerSource: 0, localRanges: ['10.0.0.0/33'] }),
    'broken.json': '{ "port": 9999, }',
  });
  const messageOf = (options: Parameters<typeof loadTrackerConfig>[0]): string => {
    try {
      loadTrackerConfig(options);
    } catch (err) {
      t.ok(err instanceof ConfigError, 'a ConfigError');
      return (err as Error).message;
    }
    return 'no error';
  };
  t.match(messageOf({ config: join(dir, 'typo.json') }), /prot: unknown config field/);
  const types = messageOf({ config: join(dir, 'types.json') });
  t.match(types, /port: expected a port number, an integer from 0 to 65535 \(0 = any free port\), got "9999"/);
  t.match(types, /helloIntervalMs: expected an integer from 100 to 86400000, got 5/);
  t.match(types, /log\.level: expected one of fatal, error/);
  t.match(types, /network: expected one of mainnet, devnet, regtest, got "moon"/);
  t.match(types, /maxMembersPerSource: expected an integer from 1 to 10000000, got 0/);
  t.match(types, /localRanges\.0: expected a CIDR range such as 10\.0\.0\.0\/8 or fd00::\/8/);
  t.match(messageOf({ config: join(dir, 'broken.json') }), /not valid JSON at line 1/);
  t.match(messageOf({ config: join(dir, 'missing.json') }), /does not exist/);
  t.match(messageOf({ port: 'abc' }), /port: .* got "abc" \(from --port\)/);
});

function run(args: string[]): { done: Promise<{ code: number | null; stderr: string }>; child: ReturnType<typeof spawn>; stderrLines: () => string } {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stderr })));
  return { done, child, stderrLines: () => stderr };
}

t.test('a bad config exits with 2 and one line on stderr', async (t) => {
  const dir = t.testdir({ 'bad.json': JSON.stringify({ port: 70000 }) });
  const { done } = run(['tracker', '--config', join(dir, 'bad.json')]);
  const { code, stderr } = await done;
  t.equal(code, 2);
  t.match(stderr, /^cheesechain: invalid config .*port: expected a port number/);
});

t.test('the tracker runs from a config file, serves, and stops on SIGTERM', async (t) => {
  const port = await closedPort();
  const dir = t.testdir();
  writeFileSync(join(dir, 'tracker.json'), JSON.stringify({ host: '127.0.0.1', port, peerPort: 0, helloIntervalMs: 60_000, log: { level: 'info' } }));
  const proc = run(['tracker', '--config', join(dir, 'tracker.json')]);
  t.teardown(() => proc.child.kill('SIGKILL'));
  // Wait for the "tracker listening" log line rather than polling the port.
  await new Promise<void>((resolve) => {
    const check = (): void => {
      if (proc.stderrLines().includes('tracker listening')) {
        proc.child.stderr!.off('data', check);
        resolve();
      }
    };
    proc.child.stderr!.on('data', check);
    check();
  });
  const { peerId } = await joinTracker({ host: '127.0.0.1', port, listenHost: '127.0.0.1', listenPort: 9 });
  t.match(peerId, /^PID/);
  proc.child.kill('SIGTERM');
  const { code, stderr } = await proc.done;
  t.equal(code, 0, 'clean exit');
  t.match(stderr, /tracker stopped/);
});
