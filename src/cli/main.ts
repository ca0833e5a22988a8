#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ConfigError } from '../config/load.js';

/*
 * `cheesechain`: one sub-command per file, loaded only when used, so that
 * `cheesechain wallet …` never loads LMDB or the mining pool.
 *
 * Adding a command: create `src/cli/<name>-command.ts` exporting
 * `register(program: Command): void` (see node-command.ts; a single
 * `register<Name>Command` export works too) and list it in
 * COMMAND_MODULES. A listed module that does not exist yet is skipped, so the
 * table may name commands before their files land.
 *
 * Errors: an action reports failure by throwing. A ConfigError, or any error
 * with a numeric `exitCode` property (WalletError, …), prints its message as
 * one line on stderr and exits with that code; anything else prints one line
 * and exits with 1.
 */

/** Exit codes of every command. */
export const EXIT = {
  /** Success (also after a clean stop by SIGINT/SIGTERM). */
  ok: 0,
  /** Runtime failure: the node crashed, the API was unreachable, a transaction was refused. */
  failure: 1,
  /** Bad usage or a bad config: nothing was started. */
  usage: 2,
} as const;

/** Sub-command name → module (relative to this file) exporting `register(program)`. */
export const COMMAND_MODULES: Readonly<Record<string, string>> = {
  node: './node-command.js',
  wallet: './wallet.js',
  tracker: './tracker-command.js',
  devnet: './devnet-command.js',
  miner: './miner-command.js',
  watch: './watch-command.js',
  switch: './switch-command.js',
  senz: './senz-command.js',
};


/**
 * What each command module exports: `register(program)`, or one function
 * named `register<Name>Command(program)`.
 */
export type CommandModule = Record<string, unknown> & { register?: (program: Command) => void };

function registrar(mod: CommandModule, specifier: string): (program: Command) => void {
  if (typeof mod.register === 'function') return mod.register;
  const named = Object.entries(mod).filter(([k, v]) => /^register\w*Command$/.test(k) && typeof v === 'function');
  if (named.length !== 1) throw new Error(`${specifier} must export register(program) or one register<Name>Command(program)`);
  return named[0]![1] as (program: Command) => void;
}

/** Parses a positive integer option. @throws InvalidArgumentError (exit 2). */
export function positiveInt(value: string): number {
  const n = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

function registerBench(program: Command): void {
  const bench = program.command('bench').description('benchmarks');
  bench
    .command('mining')
    .description('mining benchmark: kernels against baselines, pool scaling, cancellation latency (see bench/)')
    .option('--json', 'print one JSON object instead of a table')
    .option('--seconds <n>', 'approximate total duration, seconds (at least 5)', positiveInt)
    .option('--workers <n>', 'largest pool measured (default: one per core)', positiveInt)
    .action(async (opts: { json?: boolean; seconds?: number; workers?: number }) => {
      // Loaded only when the benchmark runs; it prints its own table or JSON on stdout.
      const { runMiningBench, MiningBenchOptionError } = await import('../mining/bench.js');
      try {
        await runMiningBench({ json: opts.json === true, seconds: opts.seconds, maxWorkers: opts.workers });
      } catch (err) {
        if (err instanceof MiningBenchOptionError) throw Object.assign(new Error(err.message), { exitCode: EXIT.usage });
        throw err;
      }
    });
}

function isMissingModule(err: unknown, specifier: string): boolean {
  if ((err as NodeJS.ErrnoException)?.code !== 'ERR_MODULE_NOT_FOUND') return false;
  const target = fileURLToPath(new URL(specifier, import.meta.url));
  return String((err as Error).message).includes(target);
}

/** The first argument that is not an option: the sub-command asked for. */
function requestedCommand(args: readonly string[]): string | undefined {
  return args.find((a) => !a.startsWith('-'));
}

/** Builds the program with the modules the arguments need (all of them for help or an unknown command). */
export async function buildProgram(args: readonly string[]): Promise<Command> {
  const program = new Command('cheesechain')
    .description('a peer-to-peer proof-of-work cryptocurrency: peers, tracker, wallet, mining benchmark')
    .exitOverride()
    .showHelpAfterError('(add --help for usage)');
  const wanted = requestedCommand(args);
  const names = wanted !== undefined && wanted in COMMAND_MODULES ? [wanted] : Object.keys(COMMAND_MODULES);
  for (const name of names) {
    const specifier = COMMAND_MODULES[name]!;
    let mod: CommandModule;
    try {
      mod = (await import(specifier)) as CommandModule;
    } catch (err) {
      if (isMissingModule(err, specifier)) continue; // not written yet
      throw err;
    }
    registrar(mod, specifier)(program);
  }
  registerBench(program);
  return program;
}

/** One line for the terminal: the message, never a stack. */
function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/\s*\n\s*/g, ' ');
}

/**
 * Runs the command line (`args` without `node` and the script) and returns
 * the exit code ({@link EXIT}). Commands that run a service resolve when it
 * has stopped.
 */
export async function main(args: readonly string[]): Promise<number> {
  try {
    const program = await buildProgram(args);
    await program.parseAsync([...args], { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has printed the message (or the help) already
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`cheesechain: ${oneLine(err)}\n`);
      return EXIT.usage;
    }
    const code = (err as { exitCode?: unknown })?.exitCode;
    process.stderr.write(`cheesechain: ${oneLine(err)}\n`);
    return typeof code === 'number' ? code : EXIT.failure;
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return pathToFileURL(realpathSync(script)).href === import.meta.url;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const code = await main(process.argv.slice(2));
  // Exit explicitly: a stopped node may leave idle handles (worker threads, sockets) that would keep the process alive.
  process.exit(code);
}
