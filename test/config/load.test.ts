import t, { type Test } from 'tap';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ConfigError,
  DEFAULT_API_HOST,
  DEFAULT_BAN_SECONDS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_INBOUND_PER_ADDRESS,
  DEFAULT_LISTEN_HOST,
  DEFAULT_LOG_LEVEL,
  DEFAULT_SEED001_ENABLED,
  DEFAULT_LOG_FORMAT,
  DEFAULT_MAX_INBOUND,
  DEFAULT_MAX_OUTBOUND,
  DEFAULT_MEMPOOL_MAX_TRANSACTIONS,
  DEFAULT_MEMPOOL_MIN_FEE,
  DEFAULT_MEMPOOL_DUST_LIMIT,
  DEFAULT_MINING_CHUNK_MS,
  DEFAULT_NETWORK,
  DEFAULT_TRACKER_PORT,
  coerceValue,
  configKeys,
  defaultMiningWorkers,
  defaultVerifyThreads,
  envName,
  loadConfig,
  parseHostPort,
  type ConfigIssue,
} from '../../src/config/index.js';
import { NETWORKS } from '../../src/core/params.js';
import { SEED001_IDLE_TIMEOUT_MS, SEED001_MAX_CHAIN_CHEESES, SEED001_MAX_SESSIONS } from '../../src/transport/seed001.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const KEY = 'ab'.repeat(32);

/** Writes `content` (an object as JSON, or raw text) to a file in a fresh folder. */
function configFile(t: Test, content: unknown, name = 'node.json'): string {
  const dir = t.testdir({});
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

/** Loads and expects a ConfigError; returns it. */
function fails(t: Test, load: () => unknown): ConfigError {
  try {
    load();
  } catch (err) {
    t.type(err, ConfigError);
    const e = err as ConfigError;
    t.equal(e.name, 'ConfigError');
    t.equal(e.code, 'ERR_CONFIG');
    t.notMatch(e.message, /\n/, 'the message is one line');
    return e;
  }
  t.fail('expected a ConfigError');
  throw new Error('unreachable');
}

function issueAt(issues: readonly ConfigIssue[], path: string): ConfigIssue | undefined {
  return issues.find((i) => i.path === path);
}

t.test('api.allowedHosts and log.format: from the environment, and refused with the field named', async (t) => {
  const c = loadConfig({ env: { CHEESECHAIN_DATA_DIR: '/tmp/x', CHEESECHAIN_API_ALLOWED_HOSTS: 'peer1.lan:18331, [::1]:9', CHEESECHAIN_LOG_FORMAT: 'json' } });
  t.same(c.api.allowedHosts, ['peer1.lan:18331', '[::1]:9']);
  t.equal(c.log.format, 'json');
  const bad = fails(t, () => loadConfig({ env: { CHEESECHAIN_DATA_DIR: '/tmp/x', CHEESECHAIN_API_ALLOWED_HOSTS: 'nohostport', CHEESECHAIN_LOG_FORMAT: 'fancy' } }));
  t.ok(issueAt(bad.issues, 'api.allowedHosts.0') ?? issueAt(bad.issues, 'api.allowedHosts'), 'api.allowedHosts named');
  t.ok(issueAt(bad.issues, 'log.format'), 'log.format named');
});

t.test('defaults fill every field; network-dependent ports follow the network', async (t) => {
  const c = loadConfig({ env: { CHEESECHAIN_DATA_DIR: '/tmp/x' } });
  t.same(c, {
    network: DEFAULT_NETWORK,
    dataDir: '/tmp/x',
    listen: { host: DEFAULT_LISTEN_HOST, port: NETWORKS.devnet.defaultPort },
    peers: [],
    connections: {
      maxInbound: DEFAULT_MAX_INBOUND,
      maxOutbound: DEFAULT_MAX_OUTBOUND,
      banSeconds: DEFAULT_BAN_SECONDS,
      handshakeTimeoutMs: DEFAULT_HANDSHAKE_TIMEOUT_MS,
      maxInboundPerAddress: DEFAULT_MAX_INBOUND_PER_ADDRESS,
      localRanges: [],
    },
    mining: { enabled: false, workers: defaultMiningWorkers(), chunkMs: DEFAULT_MINING_CHUNK_MS },
    mempool: { maxTransactions: DEFAULT_MEMPOOL_MAX_TRANSACTIONS, minFee: DEFAULT_MEMPOOL_MIN_FEE, dustLimit: DEFAULT_MEMPOOL_DUST_LIMIT },
    verification: { threads: defaultVerifyThreads() },
    api: { enabled: true, host: DEFAULT_API_HOST, port: NETWORKS.devnet.defaultPort + 1, allowedHosts: [] },
    seed001: { enabled: DEFAULT_SEED001_ENABLED, maxChainCheeses: SEED001_MAX_CHAIN_CHEESES, idleTimeoutMs: SEED001_IDLE_TIMEOUT_MS, maxSessions: SEED001_MAX_SESSIONS },
    log: { level: DEFAULT_LOG_LEVEL, format: DEFAULT_LOG_FORMAT },
  });
  t.equal(c.tracker, undefined);
  t.equal(c.nats, undefined);

  const r = loadConfig({ env: { CHEESECHAIN_DATA_DIR: '/tmp/x', CHEESECHAIN_NETWORK: 'regtest' } });
  t.equal(r.listen.port, NETWORKS.regtest.defaultPort);
  t.equal(r.api.port, NETWORKS.regtest.defaultPort + 1);
  const m = loadConfig({ env: {}, overrides: { dataDir: '/tmp/x', network: 'mainnet' } });
  t.equal(m.listen.port, NETWORKS.mainnet.defaultPort);
});

t.test('precedence is defaults < file < environment < command line', async (t) => {
  const file = configFile(t, { dataDir: 'd', api: { port: 1000 }, mining: { enabled: false, workers: 3 }, peers: ['a:1'] });
  const env = { CHEESECHAIN_API_PORT: '2000', CHEESECHAIN_MINING_ENABLED: 'true', CHEESECHAIN_PEERS: 'b:2,c:3' };
  const overrides = { 'api.port': '3000', 'mining.enabled': false, peers: ['d:4'] };

  const all = loadConfig({ file, env, overrides });
  t.equal(all.api.port, 3000, 'command line wins');
  t.equal(all.mining.enabled, false);
  t.same(all.peers, ['d:4']);
  t.equal(all.mining.workers, 3, 'objects merge deeply: the file value survives');

  const noArgv = loadConfig({ file, env });
  t.equal(noArgv.api.port, 2000, 'environment beats the file');
  t.equal(noArgv.mining.enabled, true);
  t.same(noArgv.peers, ['b:2', 'c:3'], 'a list from the environment replaces the file list');

  const fileOnly = loadConfig({ file, env: {} });
  t.equal(fileOnly.api.port, 1000, 'file beats the default');
  t.same(fileOnly.peers, ['a:1']);

  const defaults = loadConfig({ env: {}, overrides: { dataDir: '/d' } });
  t.equal(defaults.api.port, NETWORKS.devnet.defaultPort + 1);
});

t.test('a relative dataDir is resolved against the file folder, or the cwd for env and argv', async (t) => {
  const file = configFile(t, { dataDir: 'chain-data' });
  const dir = resolve(file, '..');
  t.equal(loadConfig({ file, env: {} }).dataDir, join(dir, 'chain-data'));
  t.equal(loadConfig({ file, env: { CHEESECHAIN_DATA_DIR: 'from-env' }, cwd: '/srv' }).dataDir, '/srv/from-env');
  t.equal(loadConfig({ file, env: {}, overrides: { dataDir: 'from-argv' }, cwd: '/srv' }).dataDir, '/srv/from-argv');
  t.equal(loadConfig({ env: {}, overrides: { dataDir: '/abs' } }).dataDir, '/abs');
});

t.test('environment variables are CHEESECHAIN_ plus the upper-snake path; values are converted by field type', async (t) => {
  t.equal(envName('mining.enabled'), 'CHEESECHAIN_MINING_ENABLED');
  t.equal(envName('dataDir'), 'CHEESECHAIN_DATA_DIR');
  t.equal(envName('connections.handshakeTimeoutMs'), 'CHEESECHAIN_CONNECTIONS_HANDSHAKE_TIMEOUT_MS');
  const names = configKeys().map((k) => k.env);
  t.equal(new Set(names).size, names.length, 'no two fields share a variable');
  for (const n of ['CHEESECHAIN_API_PORT', 'CHEESECHAIN_NATS_URL', 'CHEESECHAIN_DATA_DIR', 'CHEESECHAIN_MINING_ADDRESS', 'CHEESECHAIN_LOG_LEVEL']) t.ok(names.includes(n), n);

  const c = loadConfig({
    env: {
      CHEESECHAIN_DATA_DIR: '/d',
      CHEESECHAIN_API_PORT: '0',
      CHEESECHAIN_MINING_ENABLED: 'yes',
      CHEESECHAIN_MINING_WORKERS: '4',
      CHEESECHAIN_MINING_ADDRESS: KEY.toUpperCase(),
      CHEESECHAIN_NATS_URL: 'nats://127.0.0.1:4222',
      CHEESECHAIN_TRACKER_HOST: 'tracker.local',
      CHEESECHAIN_MEMPOOL_MIN_FEE: '1000',
      CHEESECHAIN_LOG_LEVEL: 'debug',
      CHEESECHAIN_NODE_ID: '',
      PATH: '/usr/bin',
    },
  });
  t.equal(c.api.port, 0);
  t.equal(c.mining.enabled, true);
  t.equal(c.mining.workers, 4);
  t.equal(c.mining.address, KEY, 'addresses are normalised to lower case');
  t.same(c.nats, { url: 'nats://127.0.0.1:4222', farm: true });
  t.same(c.tracker, { host: 'tracker.local', port: DEFAULT_TRACKER_PORT });
  t.equal(c.mempool.minFee, '1000');
  t.equal(c.log.level, 'debug');
  t.equal(c.nodeId, undefined, 'an empty variable counts as unset');

  t.equal(coerceValue('boolean', 'off'), false);
  t.equal(coerceValue('boolean', 'maybe'), 'maybe', 'unconvertible strings stay strings for the schema to report');
  t.equal(coerceValue('number', '12x'), '12x');
  t.same(coerceValue('list', ' a:1 , ,b:2 '), ['a:1', 'b:2']);
});

t.test('a missing file is a ConfigError naming the file', async (t) => {
  const file = join(t.testdir({}), 'nope.json');
  const e = fails(t, () => loadConfig({ file, env: {} }));
  t.equal(e.reason, 'file-not-found');
  t.equal(e.file, file);
  t.match(e.message, `config file ${file} does not exist`);
});

t.test('invalid JSON is a ConfigError with line and column', async (t) => {
  const file = configFile(t, '{\n  "dataDir": "d",\n  "network" "devnet"\n}\n');
  const e = fails(t, () => loadConfig({ file, env: {} }));
  t.equal(e.reason, 'bad-json');
  t.match(e.message, /not valid JSON at line 3, column 13/);

  const truncated = configFile(t, '{\n  "dataDir": "d",\n');
  t.match(fails(t, () => loadConfig({ file: truncated, env: {} })).message, /not valid JSON at line 3/);

  const array = configFile(t, '[1, 2]');
  t.match(fails(t, () => loadConfig({ file: array, env: {} })).message, /expected a JSON object at the top level, got an array/);
});

t.test('unknown keys are errors at every level, with a suggestion', async (t) => {
  const file = configFile(t, { dataDir: 'd', minning: { enabled: true }, api: { prot: 1 } });
  const e = fails(t, () => loadConfig({ file, env: {} }));
  t.equal(e.reason, 'invalid');
  t.match(issueAt(e.issues, 'minning')?.message, /unknown key; did you mean "mining"\?/);
  t.match(issueAt(e.issues, 'api.prot')?.message, /unknown key; did you mean "port"\?.*allowed here: enabled, host, port/);
});

t.test('wrong types and out-of-range values name the field and what was expected', async (t) => {
  const cases: Array<[unknown, string, RegExp]> = [
    [{ listen: { port: 70000 } }, 'listen.port', /expected a port number, an integer from 0 to 65535 .*got 70000/],
    [{ api: { port: -1 } }, 'api.port', /integer from 0 to 65535.*got -1/],
    [{ api: { port: 80.5 } }, 'api.port', /got 80\.5/],
    [{ mining: { enabled: 'yes' } }, 'mining.enabled', /expected true or false, got "yes"/],
    [{ mining: { workers: 0 } }, 'mining.workers', /expected an integer from 1 to/],
    [{ mining: { address: 'zz' } }, 'mining.address', /expected an ed25519 public key, 64 hex characters, got "zz"/],
    [{ mining: { address: KEY.slice(2) } }, 'mining.address', /64 hex characters/],
    [{ network: 'testnet' }, 'network', /expected one of mainnet, devnet, regtest, got "testnet"/],
    [{ nodeId: 'a:b' }, 'nodeId', /expected 1–64 characters/],
    [{ connections: { localRanges: ['10.0.0.0'] } }, 'connections.localRanges.0', /expected a CIDR range/],
    [{ peers: ['localhost'] }, 'peers.0', /expected "host:port"/],
    [{ peers: 'a:1' }, 'peers', /expected an array of "host:port" strings/],
    [{ tracker: { port: 9999 } }, 'tracker.host', /expected a host name/],
    [{ mempool: { minFee: 5 } }, 'mempool.minFee', /expected a decimal string of base units/],
    [{ mempool: { minFee: '-5' } }, 'mempool.minFee', /without sign/],
    [{ log: { level: 'loud' } }, 'log.level', /expected one of fatal, error, warn, info, debug, trace, silent/],
    [{ nats: {} }, 'nats.url', /expected a NATS server URL/],
    [{ connections: 5 }, 'connections', /expected an object/],
  ];
  for (const [patch, path, re] of cases) {
    const file = configFile(t, { dataDir: 'd', ...(patch as object) });
    const e = fails(t, () => loadConfig({ file, env: {} }));
    const issue = issueAt(e.issues, path);
    t.ok(issue, `an issue at ${path}`);
    t.match(issue?.message, re, path);
    t.match(e.message, `${path}: `, 'the one-line message names the field');
  }
});

t.test('a missing dataDir says where to set it', async (t) => {
  const e = fails(t, () => loadConfig({ env: {} }));
  t.match(issueAt(e.issues, 'dataDir')?.message, /CHEESECHAIN_DATA_DIR or --data-dir/);
});

t.test('bad environment values and unknown variables name the variable', async (t) => {
  const e = fails(t, () => loadConfig({ env: { CHEESECHAIN_DATA_DIR: '/d', CHEESECHAIN_API_PORT: 'eighty', CHEESECHAIN_MINING_ENABLE: '1' } }));
  const port = issueAt(e.issues, 'api.port');
  t.equal(port?.source, 'CHEESECHAIN_API_PORT');
  t.match(e.message, /api\.port: expected a port number.*got "eighty" \(from CHEESECHAIN_API_PORT\)/);
  t.match(issueAt(e.issues, 'CHEESECHAIN_MINING_ENABLE')?.message, /unknown environment variable; did you mean "CHEESECHAIN_MINING_ENABLED"\?/);

  const argv = fails(t, () => loadConfig({ env: {}, overrides: { dataDir: '/d', 'listen.port': '99999' } }));
  t.equal(issueAt(argv.issues, 'listen.port')?.source, 'command line');
});

t.test('parseHostPort splits host:port and refuses bad ports', async (t) => {
  t.same(parseHostPort('127.0.0.1:18330'), { host: '127.0.0.1', port: 18330 });
  t.same(parseHostPort('[::1]:9999'), { host: '::1', port: 9999 });
  t.throws(() => parseHostPort('host:0'), RangeError);
  t.throws(() => parseHostPort('host:70000'), RangeError);
  t.throws(() => parseHostPort('host'), RangeError);
});

t.test('the example configs load', async (t) => {
  const devnet = loadConfig({ file: join(repoRoot, 'config/node.example.json'), env: {} });
  t.equal(devnet.network, 'devnet');
  t.equal(devnet.mining.enabled, true, 'the example is a devnet miner');
  const regtest = loadConfig({ file: join(repoRoot, 'config/regtest.json'), env: {} });
  t.equal(regtest.network, 'regtest');
  t.equal(regtest.listen.port, 0);
});
