import { isAbsolute, resolve } from 'node:path';
import type { Command } from 'commander';
import { applyFlags, ConfigError, coerceValue, issuesFromZod, readConfigFile } from '../config/load.js';
import { LOG_LEVELS, senzSwitchConfigSchema, type SenzSwitchConfig } from '../config/schema.js';
import { createLogger } from './logger.js';

/*
 * `cheesechain switch [--config FILE] [--host H] [--port P] [--name N] [--data-dir DIR] [--log-level L]`:
 * the Senz switch of document 000 (docs/senz.md). Precedence: defaults <
 * file < flags; a relative `dataDir` in the file is resolved against the
 * file's folder, on the command line against the working folder. A bad config
 * exits with 2 before anything listens.
 */

/** Exit code of a switch that could not start (port in use, bad key file). */
export const SWITCH_START_FAILURE_EXIT = 1;
/** Signals that stop the switch cleanly. */
export const SWITCH_STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

/** Flags of `cheesechain switch`, as commander hands them over. */
export interface SwitchCommandOptions {
  config?: string;
  host?: string;
  port?: string;
  name?: string;
  dataDir?: string;
  logLevel?: string;
}

/**
 * Loads the switch's config: defaults < file < flags.
 * @throws ConfigError (exit 2) naming each bad field.
 */
export function loadSwitchConfig(options: SwitchCommandOptions, cwd = process.cwd()): SenzSwitchConfig {
  const merged: Record<string, unknown> = options.config !== undefined ? readConfigFile(options.config) : {};
  const flagged = applyFlags(merged, [
    ['host', '--host', options.host],
    ['port', '--port', coerceValue('number', options.port)],
    ['name', '--name', options.name],
    ['dataDir', '--data-dir', options.dataDir !== undefined && !isAbsolute(options.dataDir) ? resolve(cwd, options.dataDir) : options.dataDir],
    ['log.level', '--log-level', options.logLevel],
  ]);
  const result = senzSwitchConfigSchema.safeParse(merged);
  if (!result.success) throw new ConfigError('invalid', issuesFromZod(result.error, flagged), options.config, { cause: result.error });
  return { ...result.data, dataDir: resolve(cwd, result.data.dataDir) };
}

/**
 * Runs the switch until SIGINT or SIGTERM, then stops it (pending LMDB writes
 * finish) and resolves.
 * @throws ConfigError (exit 2); an Error with `exitCode` {@link SWITCH_START_FAILURE_EXIT} when it cannot start.
 */
export async function runSwitch(options: SwitchCommandOptions): Promise<void> {
  const config = loadSwitchConfig(options);
  const logger = createLogger({ level: config.log.level });
  const { SenzSwitch } = await import('../senz/switch.js');
  const sw = new SenzSwitch({ ...config, logger });
  try {
    await sw.start();
  } catch (err) {
    logger.fatal({ err }, 'switch failed to start');
    await sw.stop().catch(() => undefined);
    throw Object.assign(new Error(`cannot start the Senz switch on ${config.host}:${config.port}: ${(err as Error).message}`, { cause: err }), { exitCode: SWITCH_START_FAILURE_EXIT });
  }
  process.stdout.write(`senz switch ${config.name} listening on udp ${config.host}:${sw.port} (data ${config.dataDir})\n`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const onSignal = (s: NodeJS.Signals): void => {
      for (const name of SWITCH_STOP_SIGNALS) process.off(name, onSignal);
      resolve(s);
    };
    for (const name of SWITCH_STOP_SIGNALS) process.on(name, onSignal);
  });
  logger.info({ signal, stats: sw.stats }, 'stopping');
  await sw.stop();
}

/** Registers `cheesechain switch`. */
export function registerSwitchCommand(program: Command): void {
  program
    .command('switch')
    .description('run the Senz switch of document 000: signed text messages over UDP, routed by name (docs/senz.md)')
    .option('-c, --config <file>', 'JSON config file (docs/senz.md)')
    .option('--host <host>', 'interface to listen on (host, default 127.0.0.1)')
    .option('--port <n>', 'UDP port, 0 = any free port (port, default 9090)')
    .option('--name <name>', 'the switch\'s name (name, default mysensors)')
    .option('--data-dir <dir>', 'folder of the switch key and its users (dataDir, default data/switch)')
    .option('--log-level <level>', `${LOG_LEVELS.join(', ')} (log.level)`)
    .action(async (opts: SwitchCommandOptions) => {
      await runSwitch(opts);
    });
}
