import t, { type Test } from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, runCli } from './run-cli.js';

/*
 * The command line as a user meets it: the compiled entry point spawned as a
 * process. A bad config or bad usage exits with 2 and one line on stderr that
 * names the field, without a stack trace, and starts nothing.
 */

function expectOneLine(t: Test, stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  t.equal(lines.length, 1, `one line on stderr, got: ${stderr}`);
  t.notMatch(stderr, /^\s+at /m, 'no stack trace');
  return lines[0]!;
}

t.test('a malformed config exits 2 with one line naming the fields', async (t) => {
  const dir = t.testdir({});
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ dataDir: 'data', api: { port: 99999 }, mining: { address: 'xyz' }, minning: true }));
  const r = await runCli(['node', '--config', bad]);
  t.equal(r.code, 2);
  const line = expectOneLine(t, r.stderr);
  t.match(line, /^cheesechain: invalid config \(.*bad\.json\): /);
  t.match(line, /api\.port: expected a port number, an integer from 0 to 65535 .*got 99999/);
  t.match(line, /mining\.address: expected an ed25519 public key, 64 hex characters, got "xyz"/);
  t.match(line, /minning: unknown key; did you mean "mining"\?/);
  t.equal(r.stdout, '');
});

t.test('a missing config file and invalid JSON exit 2', async (t) => {
  const dir = t.testdir({ 'broken.json': '{\n  "dataDir": "x",\n  oops\n}\n' });
  const missing = await runCli(['node', '--config', join(dir, 'nope.json')]);
  t.equal(missing.code, 2);
  t.match(expectOneLine(t, missing.stderr), /config file .*nope\.json does not exist/);

  const broken = await runCli(['node', '--config', join(dir, 'broken.json')]);
  t.equal(broken.code, 2);
  t.match(expectOneLine(t, broken.stderr), /not valid JSON at line 3, column 3/);
});

t.test('bad values from flags and the environment exit 2 and say where they came from', async (t) => {
  const dir = t.testdir({ 'ok.json': JSON.stringify({ dataDir: 'data', network: 'regtest' }) });
  const file = join(dir, 'ok.json');
  const flag = await runCli(['node', '--config', file, '--port', '70000']);
  t.equal(flag.code, 2);
  t.match(expectOneLine(t, flag.stderr), /listen\.port: .*got 70000 \(from command line\)/);

  const env = await runCli(['node', '--config', file], { env: cleanEnv({ CHEESECHAIN_MINING_WORKERS: 'many' }) });
  t.equal(env.code, 2);
  t.match(expectOneLine(t, env.stderr), /mining\.workers: expected an integer from 1 to \d+, got "many" \(from CHEESECHAIN_MINING_WORKERS\)/);

  const tracker = await runCli(['node', '--config', file, '--tracker', 'nowhere']);
  t.equal(tracker.code, 2);
  t.match(expectOneLine(t, tracker.stderr), /tracker: expected host:port/);

  const noDataDir = await runCli(['node', '--network', 'regtest']);
  t.equal(noDataDir.code, 2);
  t.match(expectOneLine(t, noDataDir.stderr), /dataDir: .*CHEESECHAIN_DATA_DIR or --data-dir/);
});

t.test('bad usage exits 2; help exits 0', async (t) => {
  const unknownOption = await runCli(['node', '--bogus']);
  t.equal(unknownOption.code, 2);
  t.match(unknownOption.stderr, /unknown option '--bogus'/);

  const unknownCommand = await runCli(['frobnicate']);
  t.equal(unknownCommand.code, 2);
  t.match(unknownCommand.stderr, /unknown command 'frobnicate'/);

  const help = await runCli(['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /Usage: cheesechain/);
  t.match(help.stdout, /node \[options\]/);
  t.match(help.stdout, /wallet/);

  const nodeHelp = await runCli(['node', '--help']);
  t.equal(nodeHelp.code, 0);
  t.match(nodeHelp.stdout, /--config <file>/);
});
