import { pino, type DestinationStream, type Logger } from 'pino';
import { PinoPretty } from 'pino-pretty';
import type { LogFormat, LogLevel } from '../config/schema.js';

/** File descriptor logs go to: stderr, so that stdout stays free for command output (txids, JSON). */
export const LOG_FD = 2;

export interface LoggerOptions {
  level: LogLevel;
  /** `auto` (the default) is `pretty` when stderr is a terminal, else `json`. */
  format?: LogFormat;
  /** Where lines go. @default stderr, written synchronously */
  destination?: DestinationStream;
  /** Fields on every line, e.g. `{ nodeId }`. */
  base?: Record<string, unknown>;
  /** Whether stderr is a terminal (decides `auto`). @default process.stderr.isTTY */
  isTerminal?: boolean;
}

/** The format `auto` resolves to. */
export function resolveLogFormat(format: LogFormat | undefined, isTerminal: boolean): 'pretty' | 'json' {
  if (format === 'pretty' || format === 'json') return format;
  return isTerminal ? 'pretty' : 'json';
}

/**
 * The process logger. `json`: pino JSON lines (one object per line, ISO time,
 * `err` serialised with its stack), for files and log shippers. `pretty`: the
 * same records as readable lines through pino-pretty (`12:00:01 INFO: block
 * connected height=42 …`), coloured on a terminal, for people. Writes are
 * synchronous either way, so a line logged just before a crash or a `kill -9`
 * is out; a peer logs a few lines per block, far below where that costs anything.
 */
export function createLogger(options: LoggerOptions): Logger {
  const isTerminal = options.isTerminal ?? Boolean(process.stderr.isTTY);
  const format = resolveLogFormat(options.format, isTerminal);
  const destination =
    format === 'pretty'
      ? PinoPretty({
          destination: options.destination ?? LOG_FD,
          sync: true,
          colorize: isTerminal,
          translateTime: 'HH:MM:ss.l',
          ignore: 'pid,hostname',
          singleLine: true,
        })
      : (options.destination ?? pino.destination({ dest: LOG_FD, sync: true }));
  return pino(
    {
      level: options.level,
      base: { pid: process.pid, ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: { err: pino.stdSerializers.err },
    },
    destination,
  );
}
