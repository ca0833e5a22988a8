/**
 * `cheesechain watch --nats URL [--network NAME] [--subject PATTERN] [--json]`:
 * prints the events peers publish on NATS live, one readable line each
 * (time, network, node, event, key fields), or the raw JSON with `--json`.
 * Starts while the server is down and survives outages; link changes are
 * reported on stderr as `# nats …` lines. Stops on SIGINT/SIGTERM.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { pino } from 'pino';
import { assertNever } from '../core/reject.js';
import { decodeJson, parseEventMessage } from '../nats/codec.js';
import type { LinkStatus } from '../nats/link.js';
import { ALL_EVENTS_WILDCARD, networkEventsWildcard, type AnyEventMessage } from '../nats/subjects.js';

/** Largest message `watch` parses, bytes (anything larger is printed as its size). */
export const WATCH_MAX_MESSAGE_BYTES = 1024 * 1024;

/** Options of `cheesechain watch`. */
export interface WatchOptions {
  nats: string;
  network?: string;
  subject?: string;
  json?: boolean;
}

/** `0123abcd…89ef`: enough of a hash to tell blocks apart on one line. */
export function abbreviate(hash: string): string {
  return hash.length > 20 ? `${hash.slice(0, 8)}…${hash.slice(-8)}` : hash;
}

/** Base units as coins with 8 decimals (`COIN` = 10^8), trailing zeros trimmed. */
export function formatAmount(baseUnits: string): string {
  const v = BigInt(baseUnits);
  const whole = v / 100_000_000n;
  const frac = (v % 100_000_000n).toString().padStart(8, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : `${whole}`;
}

/** The key fields of an event as `name=value` pairs. */
export function describeEvent(m: AnyEventMessage): string {
  switch (m.event) {
    case 'block.connected':
      return `height=${m.data.height} hash=${abbreviate(m.data.hash)} txs=${m.data.txCount} size=${m.data.size}B miner=${abbreviate(m.data.miner)} reward=${formatAmount(m.data.reward)}`;
    case 'block.disconnected':
      return `height=${m.data.height} hash=${abbreviate(m.data.hash)} txs=${m.data.txCount}`;
    case 'block.rejected':
      return `hash=${abbreviate(m.data.hash)} code=${m.data.code} reason=${JSON.stringify(m.data.reason)}${m.data.source ? ` from=${m.data.source}` : ''}`;
    case 'block.mined':
      return `height=${m.data.height} hash=${abbreviate(m.data.hash)}`;
    case 'tip':
      return `height=${m.data.height} hash=${abbreviate(m.data.hash)} previous=${m.data.previous.height}${m.data.reorgDepth > 0 ? ` reorg=${m.data.reorgDepth}` : ''}`;
    case 'tx.accepted':
      return `txid=${abbreviate(m.data.txid)} ${abbreviate(m.data.sender)}→${abbreviate(m.data.recipient)} amount=${formatAmount(m.data.amount)} fee=${formatAmount(m.data.fee)} nonce=${m.data.nonce}`;
    case 'tx.evicted':
      return `txid=${abbreviate(m.data.txid)} reason=${m.data.reason}`;
    case 'tx.rejected':
      return `txid=${abbreviate(m.data.txid)} code=${m.data.code} reason=${JSON.stringify(m.data.reason)}${m.data.source ? ` from=${m.data.source}` : ''}`;
    case 'peer.connected':
      return `peer=${m.data.peer} ${m.data.host}:${m.data.port} ${m.data.direction}`;
    case 'peer.disconnected':
      return `peer=${m.data.peer} ${m.data.host}:${m.data.port} ${m.data.direction} reason=${JSON.stringify(m.data.reason)}`;
    case 'peer.banned':
      return `peer=${m.data.peer} host=${m.data.host} reason=${JSON.stringify(m.data.reason)} until=${new Date(m.data.until).toISOString()}`;
    case 'mining.stats':
      return `hashRate=${formatRate(m.data.hashRate)} workers=${m.data.workers} blocksWon=${m.data.blocksWon}`;
    case 'sync.progress':
      return `height=${m.data.height}/${m.data.targetHeight} ${m.data.blocksPerSecond.toFixed(1)} blocks/s${m.data.done ? ' done' : m.data.secondsLeft === null ? '' : ` left=${formatDuration(m.data.secondsLeft)}`}`;
    case 'status':
      return m.data.state === 'online' ? `online height=${m.data.height} tip=${abbreviate(m.data.tip)}${m.data.reconnect ? ' (reconnected)' : ''}` : m.data.state;
    default:
      return assertNever(m);
  }
}

/** Seconds as `1h02m`, `3m05s` or `12s`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** Hashes per second with a unit. */
export function formatRate(h: number): string {
  if (h >= 1e9) return `${(h / 1e9).toFixed(2)} GH/s`;
  if (h >= 1e6) return `${(h / 1e6).toFixed(2)} MH/s`;
  if (h >= 1e3) return `${(h / 1e3).toFixed(1)} kH/s`;
  return `${Math.round(h)} H/s`;
}

/** One line: `ISO-time network node event fields`. */
export function formatEventLine(m: AnyEventMessage): string {
  return `${new Date(m.time).toISOString()} ${m.network} ${m.nodeId} ${m.event.padEnd(17)} ${describeEvent(m)}`;
}

/** The line printed for a message on `subject` (an event, or anything else a custom pattern matched). */
export function formatMessage(subject: string, data: Uint8Array, json: boolean): string {
  const decoded = decodeJson(data, WATCH_MAX_MESSAGE_BYTES);
  if (json) return decoded.ok ? JSON.stringify({ subject, ...(isRecord(decoded.value) ? decoded.value : { value: decoded.value }) }) : JSON.stringify({ subject, bytes: data.length });
  if (!decoded.ok) return `${subject} <${data.length} bytes, not JSON>`;
  const event = parseEventMessage(decoded.value);
  if (event) {
    try {
      return formatEventLine(event);
    } catch {
      // a newer schema: fall through to the raw form
    }
  }
  return `${subject} ${JSON.stringify(decoded.value)}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describeLink(s: LinkStatus): string | undefined {
  switch (s.type) {
    case 'connected':
      return `# nats connected to ${s.server}`;
    case 'disconnected':
      return `# nats disconnected from ${s.server}; reconnecting`;
    case 'reconnected':
      return `# nats reconnected to ${s.server}`;
    case 'unreachable':
      return s.attempt === 1 ? `# nats server unreachable (${s.error}); waiting for it` : undefined;
    case 'error':
      return `# nats error: ${s.error}`;
    case 'reconnecting':
    case 'closed':
      return undefined;
    default:
      return assertNever(s);
  }
}

/**
 * Prints events until SIGINT/SIGTERM (or `signal` aborts).
 * @param out where lines go (stdout by default); status lines go to `err`.
 */
export async function runWatch(
  o: WatchOptions,
  io: { out?: (line: string) => void; err?: (line: string) => void; signal?: AbortSignal } = {},
): Promise<void> {
  const out = io.out ?? ((l: string) => process.stdout.write(l + '\n'));
  const err = io.err ?? ((l: string) => process.stderr.write(l + '\n'));
  const subject = o.subject ?? (o.network ? networkEventsWildcard(o.network) : ALL_EVENTS_WILDCARD);
  const { NatsLink } = await import('../nats/link.js');
  const link = new NatsLink({ url: o.nats, name: 'cheesechain-watch', logger: pino({ level: 'silent' }) });
  let subscribed = false;
  link.onStatus((s) => {
    const line = describeLink(s);
    if (line) err(line);
    if (s.type === 'connected' && !subscribed && link.nc) {
      subscribed = true;
      err(`# watching ${subject}`);
      link.nc.subscribe(subject, {
        callback: (e, m) => {
          if (!e) out(formatMessage(m.subject, m.data, o.json === true));
        },
      });
    }
  });
  link.start();
  await new Promise<void>((resolve) => {
    const stop = () => {
      for (const s of ['SIGINT', 'SIGTERM'] as const) process.off(s, stop);
      resolve();
    };
    for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, stop);
    io.signal?.addEventListener('abort', stop, { once: true });
  });
  await link.close();
}

function subjectPattern(value: string): string {
  if (!/^[^\s]+$/.test(value) || value.startsWith('.') || value.endsWith('.') || value.includes('..')) {
    throw new InvalidArgumentError(`expected a NATS subject pattern such as cheesechain.devnet.>, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Registers `cheesechain watch`. */
export function registerWatchCommand(program: Command): void {
  program
    .command('watch')
    .description('print the events peers publish on NATS, one line each')
    .requiredOption('--nats <url>', 'NATS server URL, e.g. nats://127.0.0.1:4222')
    .option('--network <name>', 'only this network (subject cheesechain.<network>.*.evt.>)')
    .option('--subject <pattern>', 'subject pattern to watch (default: every event of every network, cheesechain.*.*.evt.>)', subjectPattern)
    .option('--json', 'print each message as one JSON object with its subject')
    .action(async (o: WatchOptions) => {
      await runWatch(o);
    });
}
