import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '../config/schema.js';

/** File descriptor logs go to: stderr, so that stdout stays free for command output (txids, JSON). */
export const LOG_FD = 2;

export interface LoggerOptions {
  level: LogLevel;
  /** Where JSON lines go. @default stderr, written synchronously */
  destination?: DestinationStream;
  /** Fields on every line, e.g. `{ nodeId }`. */
  base?: Record<string, unknown>;
}

/**
 * The process logger: pino JSON lines (one object per line, ISO time, `err`
 * serialised with its stack) to stderr. Writes are synchronous, so a line
 * logged just before a crash or a `kill -9` is on disk; a peer logs a few
 * lines per block, far below where that costs anything.
 */
export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? pino.destination({ dest: LOG_FD, sync: true });
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
