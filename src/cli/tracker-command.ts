import type { Command } from 'commander';
import { z } from 'zod';
import { applyFlags, ConfigError, coerceValue, issuesFromZod, readConfigFile } from '../config/load.js';
import { describeValue, localRangesSchema, LOG_LEVELS, MAX_HOST_LENGTH, LOCAL_NODE_ID_PATTERN, type LogLevel } from '../config/schema.js';
import { NETWORK_NAMES, type NetworkName } from '../core/params.js';
import { DEFAULT_TRACKER_PORT } from '../tracker/protocol.js';
import { DEFAULT_HELLO_INTERVAL_MS, DEFAULT_HELLO_TIMEOUT_MS, DEFAULT_MAX_PROBES_PER_ROUND } from '../tracker/liveness.js';
import { DEFAULT_MAX_MEMBERS, DEFAULT_MAX_MEMBERS_PER_SOURCE } from '../tracker/member-table.js';
import { DEFAULT_MAX_CONNECTIONS_PER_SOURCE, DEFAULT_TRACKER_HOST, DEFAULT_TRACKER_NETWORK, DEFAULT_TRACKER_PEER_PORT } from '../tracker/server.js';
import { createLogger } from './logger.js';

/*
 * `cheesechain tracker --config FILE [--host H] [--port N] [--peer-port N] [--log-level L]`
 *
 * Precedence: defaults < file < command line. The config file is JSON:
 *   { "host", "port", "peerPort", "network", "trackerId", "helloIntervalMs",
 *     "helloTimeoutMs", "maxMembers", "maxMembersPerSource",
 *     "maxConnectionsPerSource", "maxProbesPerRound", "localRanges", "log": { "level" } }
 * every field optional (docs/tracker.md). A bad config exits with 2 before
 * anything listens (main.ts maps ConfigError to exit code 2).
 */

/** Bounds of `helloIntervalMs`, ms. */
export const MIN_HELLO_INTERVAL_MS = 100;
export const MAX_HELLO_INTERVAL_MS = 24 * 3600_000;
/** Bounds of `helloTimeoutMs`, ms. */
export const MIN_HELLO_TIMEOUT_MS = 10;
export const MAX_HELLO_TIMEOUT_MS = 600_000;
/** Largest `maxMembers`. */
export const MAX_MAX_MEMBERS = 10_000_000;
/** Exit code of a tracker that could not start (port in use, …); a bad config exits with 2. */
export const TRACKER_START_FAILURE_EXIT = 1;
/** Signals that stop the tracker cleanly. */
export const TRACKER_STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

function expected(what: string): (iss: { input?: unknown }) => string {
  return (iss) => `expected ${what}, got ${describeValue(iss.input)}`;
}

function int(min: number, max: number, what = `an integer from ${min} to ${max}`) {
  const error = expected(what);
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

const portSchema = int(0, 65_535, 'a port number, an integer from 0 to 65535 (0 = any free port)');

/**
 * Schema of the tracker's config file; every object strict, so a misspelt
 * key is an error.
 * - `host`: interface of both listeners. @default '127.0.0.1'
 * - `port`: text protocol of document 001. @default 9999
 * - `peerPort`: peer protocol (GETADDR). @default 9998
 * - `network`: network of the tracker's HELLO. @default 'devnet'
 * - `trackerId?`: node id on the peer protocol. @default random
 * - `helloIntervalMs`: pause between liveness rounds, ms. @default 5000
 * - `helloTimeoutMs`: time a member has to answer HELLO, ms. @default 2000
 * - `maxMembers`: @default 10000
 * - `maxMembersPerSource`: members joined from one address (IPv6: /64). @default 8
 * - `maxConnectionsPerSource`: open connections per listener from one address. @default 8
 * - `maxProbesPerRound`: members probed per liveness round. @default 1000
 * - `localRanges`: CIDR ranges without per-source quotas, like loopback. @default []
 * - `log.level`: pino level. @default 'info'
 */
export const trackerConfigSchema = z.strictObject(
  {
    host: z
      .string({ error: expected('a host name or IP address (a non-empty string without spaces)') })
      .regex(/^[^\s]+$/, { error: expected('a host name or IP address (a non-empty string without spaces)') })
      .max(MAX_HOST_LENGTH, { error: expected(`at most ${MAX_HOST_LENGTH} characters`) })
      .default(DEFAULT_TRACKER_HOST),
    port: portSchema.default(DEFAULT_TRACKER_PORT),
    peerPort: portSchema.default(DEFAULT_TRACKER_PEER_PORT),
    network: z.enum(NETWORK_NAMES, { error: expected(`one of ${NETWORK_NAMES.join(', ')}`) }).default(DEFAULT_TRACKER_NETWORK),
    trackerId: z
      .string({ error: expected('1–64 characters of A-Z a-z 0-9 _ -') })
      .regex(LOCAL_NODE_ID_PATTERN, { error: expected('1–64 characters of A-Z a-z 0-9 _ -') })
      .optional(),
    helloIntervalMs: int(MIN_HELLO_INTERVAL_MS, MAX_HELLO_INTERVAL_MS).default(DEFAULT_HELLO_INTERVAL_MS),
    helloTimeoutMs: int(MIN_HELLO_TIMEOUT_MS, MAX_HELLO_TIMEOUT_MS).default(DEFAULT_HELLO_TIMEOUT_MS),
    maxMembers: int(1, MAX_MAX_MEMBERS).default(DEFAULT_MAX_MEMBERS),
    maxMembersPerSource: int(1, MAX_MAX_MEMBERS).default(DEFAULT_MAX_MEMBERS_PER_SOURCE),
    maxConnectionsPerSource: int(1, 1_000_000).default(DEFAULT_MAX_CONNECTIONS_PER_SOURCE),
    maxProbesPerRound: int(1, MAX_MAX_MEMBERS).default(DEFAULT_MAX_PROBES_PER_ROUND),
    localRanges: localRangesSchema.default([]),
    log: z
      .strictObject(
        { level: z.enum(LOG_LEVELS, { error: expected(`one of ${LOG_LEVELS.join(', ')}`) }).default('info') },
        { error: expected('an object { level }') },
      )
      .prefault({}),
  },
  { error: expected('a JSON object') },
);

/** The tracker's validated config. */
export type TrackerConfig = z.output<typeof trackerConfigSchema>;

/** Flags of `cheesechain tracker`, as commander hands them over. */
export interface TrackerCommandOptions {
  config?: string;
  host?: string;
  port?: string;
  peerPort?: string;
  logLevel?: string;
}

/**
 * Loads the tracker's config: defaults < file < flags.
 * @throws ConfigError (exit 2) for a missing or unreadable file, invalid JSON, an unknown key, or a bad value; it names each field.
 */
export function loadTrackerConfig(options: TrackerCommandOptions): TrackerConfig {
  const merged: Record<string, unknown> = options.config !== undefined ? readConfigFile(options.config) : {};
  const flagged = applyFlags(merged, [
    ['host', '--host', options.host],
    ['port', '--port', coerceValue('number', options.port)],
    ['peerPort', '--peer-port', coerceValue('number', options.peerPort)],
    ['log.level', '--log-level', options.logLevel],
  ]);
  const result = trackerConfigSchema.safeParse(merged);
  if (result.success) return result.data;
  throw new ConfigError('invalid', issuesFromZod(result.error, flagged), options.config, { cause: result.error });
}

/**
 * Runs the tracker until SIGINT or SIGTERM, then closes it and resolves.
 * @throws ConfigError (exit 2) before anything listens; an Error with
 *   `exitCode` {@link TRACKER_START_FAILURE_EXIT} when a port cannot be bound.
 */
export async function runTracker(options: TrackerCommandOptions): Promise<void> {
  const config = loadTrackerConfig(options);
  const logger = createLogger({ level: config.log.level as LogLevel });
  const { startTracker } = await import('../tracker/server.js');
  let tracker;
  try {
    tracker = await startTracker({
      host: config.host,
      port: config.port,
      peerPort: config.peerPort,
      network: config.network as NetworkName,
      ...(config.trackerId !== undefined ? { trackerId: config.trackerId } : {}),
      helloIntervalMs: config.helloIntervalMs,
      helloTimeoutMs: config.helloTimeoutMs,
      maxMembers: config.maxMembers,
      maxMembersPerSource: config.maxMembersPerSource,
      maxConnectionsPerSource: config.maxConnectionsPerSource,
      maxProbesPerRound: config.maxProbesPerRound,
      localRanges: config.localRanges,
      logger,
    });
  } catch (err) {
    logger.fatal({ err }, 'tracker failed to start');
    throw Object.assign(new Error(`cannot start the tracker on ${config.host}:${config.port}/${config.peerPort}: ${(err as Error).message}`, { cause: err }), {
      exitCode: TRACKER_START_FAILURE_EXIT,
    });
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const onSignal = (s: NodeJS.Signals): void => {
      for (const name of TRACKER_STOP_SIGNALS) process.off(name, onSignal);
      resolve(s);
    };
    for (const name of TRACKER_STOP_SIGNALS) process.on(name, onSignal);
  });
  logger.info({ signal }, 'stopping');
  await tracker.close();
}

/** Registers `cheesechain tracker` (see main.ts, COMMAND_MODULES). */
export function registerTrackerCommand(program: Command): void {
  program
    .command('tracker')
    .description('run the tracker: document 001 text protocol (JOIN_CHAIN, GET_PEERS) and GETADDR over the peer protocol, with HELLO liveness checks')
    .option('-c, --config <file>', 'JSON config file (docs/tracker.md)')
    .option('--host <host>', 'interface to listen on (host)')
    .option('--port <n>', `text-protocol port, 0 = any free port (port, default ${DEFAULT_TRACKER_PORT})`)
    .option('--peer-port <n>', `peer-protocol port for GETADDR, 0 = any free port (peerPort, default ${DEFAULT_TRACKER_PEER_PORT})`)
    .option('--log-level <level>', `${LOG_LEVELS.join(', ')} (log.level)`)
    .action(async (opts: TrackerCommandOptions) => {
      await runTracker(opts);
    });
}
