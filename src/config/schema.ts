import { isIPv4, isIPv6 } from 'node:net';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { MAX_MONEY, NETWORK_NAMES, NETWORKS, type NetworkName } from '../core/params.js';
import { DEFAULT_DUST_LIMIT, DEFAULT_MEMPOOL_MAX_TRANSACTIONS, DEFAULT_MIN_RELAY_FEE } from '../core/policy.js';
import { DEFAULT_TRACKER_PORT } from '../tracker/protocol.js';
import { MAX_HOST_LENGTH } from '../transport/limits.js';
import { SEED001_IDLE_TIMEOUT_MS, SEED001_MAX_CHAIN_CHEESES, SEED001_MAX_SESSIONS } from '../transport/seed001.js';

export { DEFAULT_MEMPOOL_MAX_TRANSACTIONS, DEFAULT_TRACKER_PORT, MAX_HOST_LENGTH };

/*
 * The one schema of a peer's config (style habit 8: "one config schema with
 * named defaults and exact error messages"). Every object is strict, so a
 * misspelt key is an error instead of a silently ignored setting. Every error
 * message says what was expected and what was found; `ConfigError` (load.ts)
 * prefixes it with the field's dotted path.
 */

// ---------------------------------------------------------------------------
// Defaults (each one is documented in docs/config.md as well)

/** @default 'devnet' — the network a peer joins when the config names none. */
export const DEFAULT_NETWORK: NetworkName = 'devnet';
/** @default '127.0.0.1' — interface the peer protocol listens on (loopback: nothing is exposed by accident). */
export const DEFAULT_LISTEN_HOST = '127.0.0.1';
/** @default 32 — most inbound peer connections accepted at once. */
export const DEFAULT_MAX_INBOUND = 32;
/** @default 8 — most outbound peer connections dialled at once (Bitcoin Core also keeps 8 full-relay outbound peers). */
export const DEFAULT_MAX_OUTBOUND = 8;
/** @default 3600 — how long a misbehaving peer stays banned, seconds. */
export const DEFAULT_BAN_SECONDS = 3600;
/** @default 4 — most inbound connections (handshaking or open) from one IP address; loopback and `localRanges` are not limited. */
export const DEFAULT_MAX_INBOUND_PER_ADDRESS = 4;
/** @default [] — CIDR ranges treated like loopback: never banned by address and not limited per address (e.g. a LAN you trust). */
export const DEFAULT_LOCAL_RANGES: string[] = [];
/** @default 5000 — time allowed for the TCP handshake and the HELLO/HEY exchange, ms. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5000;
/** @default false — whether the peer mines. */
export const DEFAULT_MINING_ENABLED = false;
/** @default 100 — target duration of one nonce range handed to a mining worker, ms (cancellation latency is at most one chunk). */
export const DEFAULT_MINING_CHUNK_MS = 100;
/** @default '153' — `mempool.minFee`, base units (decimal string): the relay policy's {@link DEFAULT_MIN_RELAY_FEE}. */
export const DEFAULT_MEMPOOL_MIN_FEE = DEFAULT_MIN_RELAY_FEE.toString();
/** @default '459' — `mempool.dustLimit`, base units (decimal string): the relay policy's {@link DEFAULT_DUST_LIMIT}. */
export const DEFAULT_MEMPOOL_DUST_LIMIT = DEFAULT_DUST_LIMIT.toString();
/** @default true — whether the local HTTP API runs. */
export const DEFAULT_API_ENABLED = true;
/** @default '127.0.0.1' — interface of the local HTTP API (it has no authentication, so loopback only by default). */
export const DEFAULT_API_HOST = '127.0.0.1';
/** The HTTP API's default port is the network's peer port plus this offset (devnet: 18331). */
export const API_PORT_OFFSET = 1;
/** @default true — a peer with NATS and its local miner off mines through the NATS farm. */
export const DEFAULT_NATS_FARM = true;
/** @default true — the listening port also answers document 001's peer commands (docs/seed001.md). */
export const DEFAULT_SEED001_ENABLED = true;
/** Largest `seed001.maxChainCheeses`: a CHAIN reply of this many 1,000-transfer blocks is already hundreds of MB. */
export const MAX_SEED001_CHAIN_CHEESES = 100_000;
/** Largest `seed001.maxSessions`. */
export const MAX_SEED001_SESSIONS = 10_000;
/** @default 'info' — pino log level. */
export const DEFAULT_LOG_LEVEL = 'info';

/**
 * Default number of mining workers: one per core this process may use
 * (`os.availableParallelism()`).
 */
export function defaultMiningWorkers(): number {
  return Math.max(1, availableParallelism());
}

/** Default peer-protocol port of a network (`NetworkParams.defaultPort`). */
export function defaultListenPort(network: NetworkName): number {
  return NETWORKS[network].defaultPort;
}

/** Default HTTP API port of a network: its peer port + {@link API_PORT_OFFSET}. */
export function defaultApiPort(network: NetworkName): number {
  return NETWORKS[network].defaultPort + API_PORT_OFFSET;
}

// ---------------------------------------------------------------------------
// Limits

/** Largest TCP port number. */
export const MAX_PORT = 65_535;
/** Most static peers in `peers`. */
export const MAX_STATIC_PEERS = 256;
/** Most entries of `connections.localRanges`. */
export const MAX_LOCAL_RANGES = 64;
/** Most connections of one direction a config may allow. */
export const MAX_CONNECTIONS = 10_000;
/** Longest ban, seconds (one year). */
export const MAX_BAN_SECONDS = 365 * 24 * 3600;
/** Bounds of `connections.handshakeTimeoutMs`, ms. */
export const MIN_HANDSHAKE_TIMEOUT_MS = 100;
export const MAX_HANDSHAKE_TIMEOUT_MS = 600_000;
/** Most mining workers. */
export const MAX_MINING_WORKERS = 1024;
/** Bounds of `mining.chunkMs`, ms. */
export const MIN_MINING_CHUNK_MS = 1;
export const MAX_MINING_CHUNK_MS = 60_000;
/** Most transactions a mempool may be configured to hold. */
export const MAX_MEMPOOL_TRANSACTIONS = 10_000_000;
/** Longest URL or name string accepted, characters. */
export const MAX_STRING_LENGTH = 2048;
/** Node ids: 1–64 characters of `[A-Za-z0-9_-]` (never `:`, which separates id and port in the handshake of document 002). */
export const LOCAL_NODE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** `host:port` of a peer; an IPv6 host is written in brackets (`[::1]:18330`). */
export const HOST_PORT_PATTERN = /^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]]+):([0-9]{1,5})$/;

/** pino's levels, plus `silent`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
/** How log lines look: `pretty` (readable lines), `json` (one pino object per line) or `auto` (pretty on a terminal, JSON otherwise). */
export const LOG_FORMATS = ['auto', 'pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
/** @default 'auto' — log format. */
export const DEFAULT_LOG_FORMAT: LogFormat = 'auto';
/** Most extra host names the API answers to. */
export const MAX_API_ALLOWED_HOSTS = 16;

// ---------------------------------------------------------------------------
// Field builders with exact messages

/** Short description of a bad value for an error message. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? v.slice(0, 80) + '…' : v);
  return String(v);
}

function expected(what: string): (iss: { input?: unknown }) => string {
  return (iss) => `expected ${what}, got ${describeValue(iss.input)}`;
}

function int(min: number, max: number, what = `an integer from ${min} to ${max}`) {
  const error = expected(what);
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

const portSchema = int(0, MAX_PORT, `a port number, an integer from 0 to ${MAX_PORT} (0 = any free port)`);
const trackerPortSchema = int(1, MAX_PORT, `a port number, an integer from 1 to ${MAX_PORT}`);

function str(what: string) {
  const error = expected(what);
  return z.string({ error }).min(1, { error }).max(MAX_STRING_LENGTH, { error });
}

const hostSchema = (() => {
  const error = expected('a host name or IP address (a non-empty string without spaces)');
  return z
    .string({ error })
    .min(1, { error })
    .max(MAX_HOST_LENGTH, { error })
    .regex(/^[^\s]+$/, { error });
})();

const boolSchema = z.boolean({ error: expected('true or false') });

/**
 * Splits `host:port` (as {@link HOST_PORT_PATTERN}); brackets around an IPv6
 * host are removed.
 * @throws RangeError when `s` is not `host:port` with a port from 1 to 65535.
 */
export function parseHostPort(s: string): { host: string; port: number } {
  const m = HOST_PORT_PATTERN.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > MAX_PORT) throw new RangeError(`expected host:port with a port from 1 to ${MAX_PORT}, got ${describeValue(s)}`);
  const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
  return { host, port };
}

const hostPortSchema = z.string({ error: expected('"host:port"') }).refine(
  (s) => {
    try {
      parseHostPort(s);
      return true;
    } catch {
      return false;
    }
  },
  { error: expected(`"host:port" with a port from 1 to ${MAX_PORT}`) },
);

const MIN_FEE_RE = /^(0|[1-9][0-9]{0,18})$/;
const minFeeSchema = z
  .string({ error: expected('a decimal string of base units, e.g. "1000"') })
  .regex(MIN_FEE_RE, { error: expected('a decimal string of base units without sign, fraction or leading zeros, e.g. "1000"') })
  .refine((s) => BigInt(s) <= MAX_MONEY, { error: expected(`at most ${MAX_MONEY} base units (MAX_MONEY)`) });

const publicKeySchema = z
  .string({ error: expected('an ed25519 public key, 64 hex characters') })
  .regex(/^[0-9a-fA-F]{64}$/, { error: expected('an ed25519 public key, 64 hex characters') })
  .transform((s) => s.toLowerCase());

// ---------------------------------------------------------------------------
// The schema

const listenSchema = z.strictObject(
  {
    /** Interface to listen on. @default {@link DEFAULT_LISTEN_HOST} */
    host: hostSchema.default(DEFAULT_LISTEN_HOST),
    /** Peer-protocol TCP port; 0 picks a free one. @default the network's `defaultPort` */
    port: portSchema.optional(),
  },
  { error: expected('an object { host, port }') },
);

const trackerSchema = z.strictObject(
  {
    host: hostSchema,
    /** @default {@link DEFAULT_TRACKER_PORT} */
    port: trackerPortSchema.default(DEFAULT_TRACKER_PORT),
  },
  { error: expected('an object { host, port }') },
);

/** True for `address/prefix` with an IPv4 (prefix 0–32) or IPv6 (0–128) address. */
export function isCidr(r: string): boolean {
  const m = /^([^/]+)\/([0-9]{1,3})$/.exec(r);
  if (!m) return false;
  const bits = Number(m[2]);
  return (isIPv4(m[1]!) && bits <= 32) || (isIPv6(m[1]!) && bits <= 128);
}

/** CIDR ranges treated like loopback (no address bans, no per-address quotas): at most {@link MAX_LOCAL_RANGES}. */
export const localRangesSchema = z
  .array(z.string().refine(isCidr, { error: 'expected a CIDR range such as 10.0.0.0/8 or fd00::/8' }), { error: expected('an array of CIDR ranges') })
  .max(MAX_LOCAL_RANGES);

const connectionsSchema = z.strictObject(
  {
    maxInbound: int(0, MAX_CONNECTIONS).default(DEFAULT_MAX_INBOUND),
    maxOutbound: int(0, MAX_CONNECTIONS).default(DEFAULT_MAX_OUTBOUND),
    banSeconds: int(0, MAX_BAN_SECONDS).default(DEFAULT_BAN_SECONDS),
    handshakeTimeoutMs: int(MIN_HANDSHAKE_TIMEOUT_MS, MAX_HANDSHAKE_TIMEOUT_MS).default(DEFAULT_HANDSHAKE_TIMEOUT_MS),
    maxInboundPerAddress: int(1, MAX_CONNECTIONS).default(DEFAULT_MAX_INBOUND_PER_ADDRESS),
    localRanges: localRangesSchema.default(DEFAULT_LOCAL_RANGES),
  },
  { error: expected('an object { maxInbound, maxOutbound, banSeconds, handshakeTimeoutMs, maxInboundPerAddress, localRanges }') },
);

const miningSchema = z.strictObject(
  {
    enabled: boolSchema.default(DEFAULT_MINING_ENABLED),
    workers: int(1, MAX_MINING_WORKERS).default(defaultMiningWorkers),
    address: publicKeySchema.optional(),
    chunkMs: int(MIN_MINING_CHUNK_MS, MAX_MINING_CHUNK_MS).default(DEFAULT_MINING_CHUNK_MS),
  },
  { error: expected('an object { enabled, workers, address, chunkMs }') },
);

const mempoolSchema = z.strictObject(
  {
    maxTransactions: int(1, MAX_MEMPOOL_TRANSACTIONS).default(DEFAULT_MEMPOOL_MAX_TRANSACTIONS),
    minFee: minFeeSchema.default(DEFAULT_MEMPOOL_MIN_FEE),
    dustLimit: minFeeSchema.default(DEFAULT_MEMPOOL_DUST_LIMIT),
  },
  { error: expected('an object { maxTransactions, minFee, dustLimit }') },
);

/** @default os.availableParallelism() — worker threads that check signatures of transfers and blocks (0: on the node's own thread). */
export function defaultVerifyThreads(): number {
  return availableParallelism();
}
/** Most signature verification threads. */
export const MAX_VERIFY_THREADS = 64;

const verificationSchema = z.strictObject(
  {
    threads: int(0, MAX_VERIFY_THREADS).default(defaultVerifyThreads),
  },
  { error: expected('an object { threads }') },
);

const apiSchema = z.strictObject(
  {
    enabled: boolSchema.default(DEFAULT_API_ENABLED),
    host: hostSchema.default(DEFAULT_API_HOST),
    port: portSchema.optional(),
    /** `Host` header values (`name:port`) served besides the loopback names and `host` (DNS-rebinding defence). */
    allowedHosts: z
      .array(z.string({ error: expected('"name:port" strings') }).regex(HOST_PORT_PATTERN, { error: expected('"name:port" strings') }), {
        error: expected('an array of "name:port" strings'),
      })
      .max(MAX_API_ALLOWED_HOSTS, { error: expected(`at most ${MAX_API_ALLOWED_HOSTS} host names`) })
      .default([]),
  },
  { error: expected('an object { enabled, host, port, allowedHosts }') },
);

const natsSchema = z.strictObject(
  {
    url: str('a NATS server URL, e.g. "nats://127.0.0.1:4222"'),
    name: str('a non-empty connection name').optional(),
    /** Mine through the NATS farm (`cheesechain miner` processes) when the local miner is off. @default {@link DEFAULT_NATS_FARM} */
    farm: boolSchema.default(DEFAULT_NATS_FARM),
  },
  { error: expected('an object { url, name, farm }') },
);

const seed001Schema = z.strictObject(
  {
    enabled: boolSchema.default(DEFAULT_SEED001_ENABLED),
    /** Most cheeses a CHAIN reply lists: the most recent ones when the chain is longer. */
    maxChainCheeses: int(1, MAX_SEED001_CHAIN_CHEESES).default(SEED001_MAX_CHAIN_CHEESES),
    /** A seed-001 connection with no request for this long is closed (subscribers excepted), ms. */
    idleTimeoutMs: int(MIN_HANDSHAKE_TIMEOUT_MS, MAX_HANDSHAKE_TIMEOUT_MS).default(SEED001_IDLE_TIMEOUT_MS),
    maxSessions: int(1, MAX_SEED001_SESSIONS).default(SEED001_MAX_SESSIONS),
  },
  { error: expected('an object { enabled, maxChainCheeses, idleTimeoutMs, maxSessions }') },
);

const logSchema = z.strictObject(
  {
    level: z.enum(LOG_LEVELS, { error: expected(`one of ${LOG_LEVELS.join(', ')}`) }).default(DEFAULT_LOG_LEVEL),
    format: z.enum(LOG_FORMATS, { error: expected(`one of ${LOG_FORMATS.join(', ')}`) }).default(DEFAULT_LOG_FORMAT),
  },
  { error: expected('an object { level, format }') },
);

// ---------------------------------------------------------------------------
// Senz (seed document 000): the coin service of a peer, and the switch's own config

/** @default '127.0.0.1:9090' — the Senz switch a coin service registers on (document 000's switch port). */
export const DEFAULT_SENZ_SWITCH = '127.0.0.1:9090';
/** @default 'mysensors' — the switch's name (document 000). */
export const DEFAULT_SENZ_SWITCH_NAME = 'mysensors';
/** @default 'coins' — the name a coin service registers under. */
export const DEFAULT_SENZ_SERVICE_NAME = 'coins';
/**
 * @default the original base node's table (service id → coin value: 1→50,
 * 2→45, 3→30, 4→10), here in base units: the coins a `cc` request pays.
 */
export const DEFAULT_SENZ_PRICES: Readonly<Record<string, string>> = { '1': '5000000000', '2': '4500000000', '3': '3000000000', '4': '1000000000' };
/** @default '1000' — fee of each transfer a coin service pays, base units. */
export const DEFAULT_SENZ_FEE = '1000';
/** Service ids and Senz names: the Senz grammar's name characters. */
export const SENZ_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
/** Most entries of a price table. */
export const MAX_SENZ_PRICES = 1000;

const senzNameSchema = z
  .string({ error: expected('a Senz name: 1–64 characters of A-Z a-z 0-9 _ . -') })
  .regex(SENZ_NAME_PATTERN, { error: expected('a Senz name: 1–64 characters of A-Z a-z 0-9 _ . -') });

const baseUnitsSchema = z
  .string({ error: expected('a decimal string of base units, e.g. "5000000000"') })
  .regex(MIN_FEE_RE, { error: expected('a decimal string of base units without sign, fraction or leading zeros') })
  .refine((s) => BigInt(s) <= MAX_MONEY, { error: expected(`at most ${MAX_MONEY} base units (MAX_MONEY)`) });

const senzSchema = z.strictObject(
  {
    /** `host:port` of the switch. @default {@link DEFAULT_SENZ_SWITCH} */
    switch: hostPortSchema.default(DEFAULT_SENZ_SWITCH),
    /** @default {@link DEFAULT_SENZ_SWITCH_NAME} */
    switchName: senzNameSchema.default(DEFAULT_SENZ_SWITCH_NAME),
    /** The service's own Senz name. @default {@link DEFAULT_SENZ_SERVICE_NAME} */
    name: senzNameSchema.default(DEFAULT_SENZ_SERVICE_NAME),
    /** Service id → coin value paid for one `cc` request, base units. @default {@link DEFAULT_SENZ_PRICES} */
    prices: z
      .record(senzNameSchema, baseUnitsSchema.refine((s) => s !== '0', { error: expected('a price of at least 1 base unit') }), {
        error: expected('an object { "<service id>": "<base units>" }'),
      })
      .refine((r) => Object.keys(r).length >= 1 && Object.keys(r).length <= MAX_SENZ_PRICES, { error: expected(`1 to ${MAX_SENZ_PRICES} services`) })
      .default(() => ({ ...DEFAULT_SENZ_PRICES })),
    /** Fee of each payment, base units. @default {@link DEFAULT_SENZ_FEE} */
    fee: baseUnitsSchema.default(DEFAULT_SENZ_FEE),
  },
  { error: expected('an object { switch, switchName, name, prices, fee }') },
);

/** Key types of the Senz switch. */
export const SENZ_KEY_TYPES = ['rsa', 'ed25519'] as const;

/** @default '127.0.0.1' — interface of the switch (document 000's switch listened on every interface; loopback avoids exposing it by accident). */
export const DEFAULT_SWITCH_HOST = '127.0.0.1';
/** @default 9090 — UDP port of the switch (document 000). */
export const DEFAULT_SWITCH_PORT = 9090;
/** @default 'rsa' — type of the switch's own key: RSA, as the original clients expect. */
export const DEFAULT_SWITCH_KEY_TYPE: (typeof SENZ_KEY_TYPES)[number] = 'rsa';
/** @default 2048 — largest datagram read, bytes; a longer one is dropped unread. */
export const DEFAULT_MAX_DATAGRAM_BYTES = 2048;
/** @default 20 — sustained datagrams per second accepted from one IP address. */
export const DEFAULT_RATE_PER_SECOND = 20;
/** @default 40 — datagrams an idle IP address may send at once. */
export const DEFAULT_RATE_BURST = 40;
/** @default 120000 — a message's `#time` may be this far from the switch's clock, ms. */
export const DEFAULT_TIME_WINDOW_MS = 120_000;
/** @default true — messages without `#time` are refused (they could be replayed once they leave the replay cache). */
export const DEFAULT_REQUIRE_TIME = true;
/** @default 100000 — most signatures held by the replay cache. */
export const DEFAULT_REPLAY_CACHE_SIZE = 100_000;
/** @default 16 — most users registered from one IP address. */
export const DEFAULT_MAX_USERS_PER_ADDRESS = 16;
/** @default 20000 — pause between PING rounds, ms (document 000: 20 s). */
export const DEFAULT_PING_INTERVAL_MS = 20_000;
/** @default 'data/switch' — the switch's data folder (relative to the working folder, or to the config file's folder). */
export const DEFAULT_SWITCH_DATA_DIR = 'data/switch';
/** The switch's own name: {@link DEFAULT_SENZ_SWITCH_NAME}. */
export const DEFAULT_SWITCH_NAME = DEFAULT_SENZ_SWITCH_NAME;

/**
 * Config of `cheesechain switch` (its own file; every field optional):
 * - `host` @default '127.0.0.1', `port` @default 9090, `name` @default 'mysensors'
 * - `dataDir` @default 'data/switch': the switch's key and its LMDB users
 * - `keyType` @default 'rsa': type of the switch's own key
 * - `maxDatagramBytes` @default 2048; `ratePerSecond` @default 20; `rateBurst` @default 40
 * - `timeWindowMs` @default 120000; `requireTime` @default true; `replayCacheSize` @default 100000
 * - `maxUsersPerAddress` @default 16; `pingIntervalMs` @default 20000; `log.level` @default 'info'
 * The defaults are the named constants above (docs/senz.md).
 */
export const senzSwitchConfigSchema = z.strictObject(
  {
    host: hostSchema.default(DEFAULT_SWITCH_HOST),
    port: portSchema.default(DEFAULT_SWITCH_PORT),
    name: senzNameSchema.default(DEFAULT_SWITCH_NAME),
    dataDir: str('a folder path').default(DEFAULT_SWITCH_DATA_DIR),
    keyType: z.enum(SENZ_KEY_TYPES, { error: expected(`one of ${SENZ_KEY_TYPES.join(', ')}`) }).default(DEFAULT_SWITCH_KEY_TYPE),
    maxDatagramBytes: int(256, 65_507).default(DEFAULT_MAX_DATAGRAM_BYTES),
    ratePerSecond: int(1, 1_000_000).default(DEFAULT_RATE_PER_SECOND),
    rateBurst: int(1, 1_000_000).default(DEFAULT_RATE_BURST),
    timeWindowMs: int(1000, 24 * 3600_000).default(DEFAULT_TIME_WINDOW_MS),
    requireTime: boolSchema.default(DEFAULT_REQUIRE_TIME),
    replayCacheSize: int(1, 10_000_000).default(DEFAULT_REPLAY_CACHE_SIZE),
    maxUsersPerAddress: int(1, 1_000_000).default(DEFAULT_MAX_USERS_PER_ADDRESS),
    pingIntervalMs: int(100, 24 * 3600_000).default(DEFAULT_PING_INTERVAL_MS),
    log: logSchema.prefault({}),
  },
  { error: expected('a JSON object') },
);

/** The validated config of `cheesechain switch`. */
export type SenzSwitchConfig = z.output<typeof senzSwitchConfigSchema>;

/**
 * The config as written (file, environment, command line merged), before the
 * defaults that depend on the network are filled in. Strict at every level.
 */
export const nodeConfigInputSchema = z.strictObject(
  {
    network: z.enum(NETWORK_NAMES, { error: expected(`one of ${NETWORK_NAMES.join(', ')}`) }).default(DEFAULT_NETWORK),
    dataDir: str('a folder path (set it in the config file, CHEESECHAIN_DATA_DIR or --data-dir)'),
    nodeId: z
      .string({ error: expected('1–64 characters of A-Z a-z 0-9 _ -') })
      .regex(LOCAL_NODE_ID_PATTERN, { error: expected('1–64 characters of A-Z a-z 0-9 _ -') })
      .optional(),
    listen: listenSchema.prefault({}),
    peers: z
      .array(hostPortSchema, { error: expected('an array of "host:port" strings') })
      .max(MAX_STATIC_PEERS, { error: expected(`at most ${MAX_STATIC_PEERS} peers`) })
      .default([]),
    tracker: trackerSchema.optional(),
    connections: connectionsSchema.prefault({}),
    mining: miningSchema.prefault({}),
    mempool: mempoolSchema.prefault({}),
    verification: verificationSchema.prefault({}),
    api: apiSchema.prefault({}),
    nats: natsSchema.optional(),
    /** The Senz coin service (document 000), off when absent. */
    senz: senzSchema.optional(),
    /** Document 001's peer commands on the listening port. */
    seed001: seed001Schema.prefault({}),
    log: logSchema.prefault({}),
  },
  { error: expected('a JSON object') },
);

/**
 * The schema of a peer's config: {@link nodeConfigInputSchema} plus the
 * defaults that depend on the network (`listen.port` = the network's
 * `defaultPort`, `api.port` = that + {@link API_PORT_OFFSET}). Relative
 * `dataDir` paths are resolved by `loadConfig`, not here.
 */
export const nodeConfigSchema = nodeConfigInputSchema.transform((c) => ({
  ...c,
  listen: { host: c.listen.host, port: c.listen.port ?? defaultListenPort(c.network) },
  api: { enabled: c.api.enabled, host: c.api.host, port: c.api.port ?? defaultApiPort(c.network), allowedHosts: c.api.allowedHosts },
}));

/**
 * A peer's validated config; every field documented in `docs/config.md`.
 *
 * - `network`: 'mainnet' | 'devnet' | 'regtest'
 * - `dataDir`: absolute folder of the chain (LMDB), node id and mining key
 * - `nodeId?`: fixed node id (else made once and kept in `dataDir`)
 * - `listen`: `{host, port}` of the peer protocol (port 0 = ephemeral)
 * - `peers`: static peers to dial, `host:port`
 * - `tracker?`: `{host, port}` of the bootstrap tracker
 * - `connections`: `{maxInbound, maxOutbound, banSeconds, handshakeTimeoutMs, maxInboundPerAddress, localRanges}`
 * - `mining`: `{enabled, workers, address? (64 lower-case hex), chunkMs}`
 * - `mempool`: `{maxTransactions, minFee, dustLimit (decimal strings, base units)}`
 * - `verification`: `{threads}` signature-checking worker threads (0 = the node's own thread)
 * - `api`: `{enabled, host, port, allowedHosts}` of the local HTTP API (port 0 = ephemeral)
 * - `nats?`: `{url, name?, farm}` (farm: mine through remote `cheesechain miner` processes when local mining is off)
 * - `senz?`: `{switch (host:port), switchName, name, prices (service id → base units), fee}`: the Senz coin service (docs/senz.md)
 * - `seed001`: `{enabled, maxChainCheeses, idleTimeoutMs (ms), maxSessions}`: document 001's peer commands on the listening port (docs/seed001.md)
 * - `log`: `{level, format}`
 */
export type NodeConfig = z.output<typeof nodeConfigSchema>;
/** The config as it may be written (every defaulted field optional). */
export type NodeConfigInput = z.input<typeof nodeConfigInputSchema>;
