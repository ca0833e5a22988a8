/**
 * `cheesechain miner --nats URL --network NAME [--workers N] [--chunk-ms MS] [--id NAME]`:
 * remote hash power for the peers of a network. Runs
 * a piscina mining pool in the farm's NATS queue group until SIGINT/SIGTERM;
 * starts even when the NATS server is down and connects when it comes up.
 * Logs go to stderr as pino JSON lines.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { LOG_LEVELS, type LogLevel } from '../config/schema.js';
import { NETWORK_NAMES } from '../core/params.js';
import { SUBJECT_TOKEN_PATTERN } from '../nats/subjects.js';
import { createLogger } from './logger.js';

/** Signals that stop the miner cleanly. */
export const MINER_STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

/** Options of `cheesechain miner`. */
export interface MinerCommandOptions {
  nats: string;
  network: string;
  workers?: number;
  chunkMs?: number;
  id?: string;
  logLevel: LogLevel;
}

/** Parses a positive integer option. (Not imported from main.ts: that module awaits at top level, so importing it here would deadlock.) */
export function positiveInt(value: string): number {
  const n = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

function networkName(value: string): string {
  if (!(NETWORK_NAMES as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${NETWORK_NAMES.join(', ')}, got ${JSON.stringify(value)}`);
  return value;
}

function minerId(value: string): string {
  if (!SUBJECT_TOKEN_PATTERN.test(value)) throw new InvalidArgumentError(`expected 1–64 characters of A-Z a-z 0-9 _ -, got ${JSON.stringify(value)}`);
  return value;
}

function logLevel(value: string): LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(value)}`);
  return value as LogLevel;
}

/**
 * Runs a remote miner until SIGINT or SIGTERM, then stops its pool and
 * connection. A second signal exits at once.
 * @throws the pool's option errors before anything starts; the supervisor's escalation.
 */
export async function runMinerCommand(o: MinerCommandOptions): Promise<void> {
  const logger = createLogger({ level: o.logLevel, base: { role: 'miner' } });
  const { runRemoteMiner } = await import('../nats/remote-miner.js');
  const miner = await runRemoteMiner({
    url: o.nats,
    network: o.network,
    logger,
    ...(o.workers !== undefined ? { workers: o.workers } : {}),
    ...(o.chunkMs !== undefined ? { chunkMs: o.chunkMs } : {}),
    ...(o.id !== undefined ? { minerId: o.id } : {}),
  });
  let signals = 0;
  let signalled!: () => void;
  const stopRequested = new Promise<void>((resolve) => (signalled = resolve));
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals === 1) {
      logger.info({ signal }, 'stopping');
      signalled();
    } else process.exit(130);
  };
  for (const s of MINER_STOP_SIGNALS) process.on(s, onSignal);
  try {
    await Promise.race([stopRequested, miner.done]);
  } finally {
    for (const s of MINER_STOP_SIGNALS) process.off(s, onSignal);
    await miner.stop();
  }
}

/** Registers `cheesechain miner`. */
export function registerMinerCommand(program: Command): void {
  program
    .command('miner')
    .description('remote hash power: mine block templates from the peers of a network over NATS (queue group)')
    .requiredOption('--nats <url>', 'NATS server URL, e.g. nats://127.0.0.1:4222')
    .option('--network <name>', `network whose peers to mine for (${NETWORK_NAMES.join(', ')})`, networkName, 'devnet')
    .option('--workers <n>', 'mining worker threads (default: one per core)', positiveInt)
    .option('--chunk-ms <ms>', 'duration of one nonce range per worker, ms', positiveInt)
    .option('--id <name>', 'miner id in reports and logs (default: <hostname>-<pid>)', minerId)
    .option('--log-level <level>', `${LOG_LEVELS.join(', ')}`, logLevel, 'info')
    .action(async (o: MinerCommandOptions) => {
      await runMinerCommand(o);
    });
}
