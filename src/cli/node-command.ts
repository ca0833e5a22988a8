import { join } from 'node:path';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import { parseHostPort } from '../config/schema.js';
import { ConfigError, loadConfig, type ConfigOverrides } from '../config/load.js';
import type { NodeConfig } from '../config/schema.js';
import cliProgress from 'cli-progress';
import type { EventBus } from '../actors/events.js';
import { createLogger } from './logger.js';
import { formatDuration } from './watch-command.js';

/** Flags of `cheesechain node`, as commander hands them over (strings until the config schema checks them). */
export interface NodeCommandOptions {
  config?: string;
  dataDir?: string;
  network?: string;
  nodeId?: string;
  port?: string;
  apiPort?: string;
  mine?: boolean;
  workers?: string;
  miningAddress?: string;
  peer?: string[];
  tracker?: string;
  nats?: string;
  logLevel?: string;
  logFormat?: string;
}

/** Exit code after a second SIGINT/SIGTERM that interrupts a clean stop. */
export const FORCED_EXIT_CODE = 1;
/** Signals that stop a node cleanly. */
export const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

/**
 * Command-line flags as config overrides (dotted paths of the schema); the
 * values stay strings so that the schema reports a bad one with the field's
 * expectation.
 * @throws ConfigError for a `--tracker` that is not `host:port`.
 */
export function nodeOverrides(o: NodeCommandOptions): ConfigOverrides {
  const out: Record<string, unknown> = {
    dataDir: o.dataDir,
    network: o.network,
    nodeId: o.nodeId,
    'listen.port': o.port,
    'api.port': o.apiPort,
    'mining.enabled': o.mine,
    'mining.workers': o.workers,
    'mining.address': o.miningAddress,
    peers: o.peer,
    'nats.url': o.nats,
    'log.level': o.logLevel,
    'log.format': o.logFormat,
  };
  if (o.tracker !== undefined) {
    try {
      const { host, port } = parseHostPort(o.tracker);
      out['tracker.host'] = host;
      out['tracker.port'] = port;
    } catch (err) {
      throw new ConfigError('invalid', [{ path: 'tracker', message: (err as Error).message, source: '--tracker' }], o.config);
    }
  }
  return out;
}

/**
 * Runs one peer until SIGINT or SIGTERM: loads the config (defaults < file <
 * environment < flags), starts the node and, when `api.enabled`, the local
 * HTTP API. The first signal stops the API, then the node (which finishes the
 * write in progress and closes LMDB), and resolves; a second signal exits at
 * once with {@link FORCED_EXIT_CODE}.
 * @returns when the node has stopped after a signal.
 * @throws ConfigError (exit 2) before anything starts; the node's start
 *   errors (another network's data folder, a locked folder, a busy port) and
 *   a supervisor's escalation (exit 1).
 */
export async function runNode(options: NodeCommandOptions, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const overrides = nodeOverrides(options);
  const config: NodeConfig = loadConfig(options.config !== undefined ? { file: options.config, env, overrides } : { env, overrides });
  const logger = createLogger({ level: config.log.level, format: config.log.format });

  let signalled!: (signal: NodeJS.Signals) => void;
  const stopRequested = new Promise<NodeJS.Signals>((resolve) => (signalled = resolve));
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      logger.info({ signal }, 'stopping');
      signalled(signal);
    } else {
      logger.warn({ signal }, 'second signal while stopping; exiting now');
      process.exit(FORCED_EXIT_CODE);
    }
  };
  // Installed before the node starts, so that a signal during start-up also stops it cleanly.
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  try {
    await runUntilStopped(config, logger, stopRequested);
  } finally {
    for (const s of STOP_SIGNALS) process.off(s, onSignal);
  }
}

async function runUntilStopped(config: NodeConfig, logger: Logger, stopRequested: Promise<NodeJS.Signals>): Promise<void> {
  // Loaded here, after the config is known to be good: a bad config never loads LMDB or the pool.
  const { startNode } = await import('../node/node.js');
  const { startHttpApi } = await import('../api/http.js');
  const { natsNodeDeps } = await import('../nats/node-wiring.js');
  const { loadOrCreateApiToken, API_TOKEN_FILE } = await import('../node/api-token.js');
  let node;
  try {
    // The Senz coin service (src/senz) is loaded only for a peer configured with `senz`.
    const senz = config.senz ? [(await import('../senz/coin-service.js')).coinService] : [];
    node = await startNode(config, { logger, ...natsNodeDeps, services: [...(natsNodeDeps.services ?? []), ...senz] });
  } catch (err) {
    logger.fatal({ err }, 'node failed to start');
    throw err;
  }
  let http;
  try {
    if (config.api.enabled) {
      const token = loadOrCreateApiToken(config.dataDir);
      http = await startHttpApi(node.api, {
        host: config.api.host,
        port: config.api.port,
        logger,
        token,
        tokenHint: join(config.dataDir, API_TOKEN_FILE),
        allowedHosts: config.api.allowedHosts,
        events: node.bus,
      });
    }
  } catch (err) {
    logger.fatal({ err }, 'http api failed to start');
    await node.stop();
    throw new Error(`cannot start the HTTP API on ${config.api.host}:${config.api.port}: ${(err as Error).message}`, { cause: err });
  }
  logger.info({ nodeId: node.nodeId, api: http?.url }, 'ready');
  // Jupyter's habit: the URL with the token, on stdout, for the person who started the peer.
  if (http) process.stdout.write(`dashboard of ${node.nodeId}: ${http.dashboardUrl}\n`);
  const stopProgress = process.stderr.isTTY ? showSyncProgress(node.bus) : undefined;

  const outcome = await Promise.race([
    stopRequested.then((signal) => ({ type: 'signal' as const, signal })),
    node.done.then(
      () => ({ type: 'ended' as const }),
      (err: unknown) => ({ type: 'failed' as const, err }),
    ),
  ]);
  stopProgress?.();
  await http?.close();
  await node.stop();
  switch (outcome.type) {
    case 'signal':
    case 'ended':
      logger.info('stopped');
      return;
    case 'failed':
      throw new Error(`node stopped after a failure: ${(outcome.err as Error)?.message ?? String(outcome.err)}`, { cause: outcome.err });
  }
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Registers `cheesechain node`. */
export function register(program: Command): void {
  program
    .command('node')
    .description('run one peer (mining when mining.enabled); config precedence: defaults < file < CHEESECHAIN_* environment < flags')
    .option('-c, --config <file>', 'JSON config file (docs/config.md)')
    .option('--data-dir <dir>', 'data folder (dataDir)')
    .option('--network <name>', 'mainnet, devnet or regtest (network)')
    .option('--node-id <id>', 'fixed node id (nodeId)')
    .option('--port <n>', 'peer-protocol port, 0 = any free port (listen.port)')
    .option('--api-port <n>', 'HTTP API port, 0 = any free port (api.port)')
    .option('--mine', 'mine (mining.enabled = true)')
    .option('--no-mine', 'do not mine (mining.enabled = false)')
    .option('--workers <n>', 'mining workers (mining.workers)')
    .option('--mining-address <hex>', 'public key the coinbase pays (mining.address)')
    .option('--peer <host:port>', 'static peer to dial; repeat for more (peers)', collect)
    .option('--tracker <host:port>', 'tracker to join (tracker.host, tracker.port)')
    .option('--nats <url>', 'NATS server (nats.url)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (log.level)')
    .option('--log-format <format>', 'auto (pretty on a terminal, else JSON), pretty or json (log.format)')
    .action(async (opts: NodeCommandOptions) => {
      await runNode(opts);
    });
}

/**
 * A progress bar on the terminal (stderr) while the node catches up with its
 * peers: height of target, blocks per second and time left, from the node's
 * `sync-progress` events. Returns the function that removes it.
 */
export function showSyncProgress(bus: EventBus): () => void {
  let bar: cliProgress.SingleBar | undefined;
  const off = bus.on('sync-progress', (e) => {
    const values = { rate: e.blocksPerSecond.toFixed(1), left: e.secondsLeft === undefined ? '?' : formatDuration(e.secondsLeft) };
    if (!bar) {
      bar = new cliProgress.SingleBar(
        { format: 'sync [{bar}] {value}/{total} blocks | {rate} blocks/s | {left} left', stream: process.stderr, hideCursor: false },
        cliProgress.Presets.shades_classic,
      );
      bar.start(e.targetHeight, e.height, values);
    }
    bar.setTotal(e.targetHeight);
    bar.update(e.height, values);
    if (e.done) {
      bar.stop();
      bar = undefined;
    }
  });
  return () => {
    off();
    bar?.stop();
  };
}
