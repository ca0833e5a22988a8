import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { MAX_HOST_LENGTH } from '../transport/limits.js';

export { MAX_HOST_LENGTH };

/*
 * The tracker's text protocol, as written in source document 001 (the
 * cheesechain protocol document), with the framing that document lacks.
 * Pure: no sockets, no timers. `docs/tracker.md` is the byte-by-byte
 * description; every rule below names the decision it implements.
 *
 * Framing (decided here; 001 has none):
 *   - A request is one line of ASCII ended by LF or CRLF.
 *   - A request sent without a line end (001's Python samples call
 *     `s.send(request.encode())` and nothing else) is taken as complete when
 *     the connection has been idle for IDLE_FLUSH_MS and the bytes buffered
 *     form a syntactically complete command. That decision belongs to the
 *     server (it owns the timer); `classifyPartial` tells it what it holds.
 *   - Every response is one line ended by LF alone (RESPONSE_TERMINATOR):
 *     Python's `recv(…).decode().strip()` and `readline()` both see the
 *     document's strings.
 */

// ---------------------------------------------------------------------------
// Constants

/** @default 9999 — TCP port of the tracker (document 001: "PEERS can connect to the tracker on port 9999"). */
export const DEFAULT_TRACKER_PORT = 9999;
/** First line the tracker sends on every connection (document 001, "Connection Response"). */
export const GREETING = 'Connection Successful';
/** Ends every response line. LF only: `str.strip()`, `readline()` and `splitlines()` all handle it. */
export const RESPONSE_TERMINATOR = '\n';
/** Ends every request the cheesechain client sends (the server accepts LF, CRLF or none). */
export const REQUEST_TERMINATOR = '\n';
/** How long a connection must stay quiet before a buffered request without line end is taken as complete, ms. */
export const IDLE_FLUSH_MS = 50;
/**
 * Longest request line, bytes, line end excluded. The longest valid request is
 * `JOIN_CHAIN:` + a 253-character host name (RFC 1035 §2.3.4) + `:65535`,
 * 270 bytes; anything past this limit closes the connection and is never buffered.
 */
export const MAX_REQUEST_LINE_BYTES = 512;
/** Longest response line the client accepts, bytes (a `CPSS` reply of {@link MAX_PEERS_PER_REPLY} longest entries is about 330 KB). */
export const MAX_RESPONSE_LINE_BYTES = 1024 * 1024;
/** Most peers one `CPSS` reply lists (the same bound as the peer protocol's ADDR). */
export const MAX_PEERS_PER_REPLY = 1000;
/** Largest TCP port. */
export const MAX_PORT = 65_535;
/** Random bytes in a peer id: `PID` + 32 lower-case hex digits (document 001 shows `PIDxxxxxxxxxxxxxxxxx`). */
export const PID_RANDOM_BYTES = 16;
/** Prefix of a peer id and of the JOIN_CHAIN reply (document 001). */
export const PID_PREFIX = 'PID';
/** A peer id this tracker hands out. */
export const PID_PATTERN = /^PID[0-9a-f]{32}$/;
/** A peer id accepted from any tracker by the client (document 001 only says `PID` + characters). */
export const FOREIGN_PID_PATTERN = /^PID[0-9A-Za-z_-]{1,128}$/;
/** Prefix of the GET_PEERS reply (document 001: `CPSS[…]`). */
export const PEERS_PREFIX = 'CPSS';
/** First word of every error line. */
export const ERROR_PREFIX = 'ERROR';

/** The request commands of document 001 the tracker answers. */
export const COMMANDS = {
  join: 'JOIN_CHAIN',
  getPeers: 'GET_PEERS',
} as const;

/**
 * Codes of the tracker's error lines (`ERROR <CODE> <message>`):
 * - `MALFORMED`: a known command with bad arguments (host, port, empty id).
 * - `UNKNOWN_COMMAND`: the first word is not a command of document 001.
 * - `UNKNOWN_PEER`: GET_PEERS with a PID the tracker does not know (never
 *   joined, or removed after a failed liveness check): join again.
 * - `TRACKER_FULL`: the member table is at its limit.
 * - `SOURCE_FULL`: the address the request comes from already holds its
 *   quota of members (the tracker's own rule against one source filling the table).
 * - `REQUEST_TOO_LONG`: a line over {@link MAX_REQUEST_LINE_BYTES}; the tracker closes the connection after it.
 */
export const TRACKER_ERROR_CODES = ['MALFORMED', 'UNKNOWN_COMMAND', 'UNKNOWN_PEER', 'TRACKER_FULL', 'SOURCE_FULL', 'REQUEST_TOO_LONG'] as const;
export type TrackerErrorCode = (typeof TRACKER_ERROR_CODES)[number];

// ---------------------------------------------------------------------------
// Messages

/** One member as listed by GET_PEERS. */
export interface TrackerPeer {
  /** `PID…` handed out by JOIN_CHAIN. */
  peerId: string;
  /** Host the peer listens on for the peer protocol, as it joined (IPv6 without brackets). */
  host: string;
  /** TCP port of its peer protocol, 1–65535. */
  port: number;
}

/** A parsed request line. */
export type TrackerRequest =
  /** `JOIN_CHAIN:HOST:PORT` — HOST a host name, IPv4 address or `[IPv6]`; PORT 1–65535 in decimal. */
  | { type: 'join'; host: string; port: number }
  /** `GET_PEERS:PID`. */
  | { type: 'get-peers'; peerId: string };

/** A response line. */
export type TrackerResponse =
  /** `Connection Successful`, sent once when a connection opens. */
  | { type: 'greeting' }
  /** `PID<32 hex>`: the reply to JOIN_CHAIN. */
  | { type: 'joined'; peerId: string }
  /** `CPSS[{"peer_id":"PID…","host":"…","port":9009}, …]`: the reply to GET_PEERS. */
  | { type: 'peers'; peers: TrackerPeer[] }
  /** `ERROR <CODE> <message>`. `code` is kept as sent, so a newer tracker's codes still parse. */
  | { type: 'error'; code: string; message: string };

/** The result of parsing a request line: the request, or the error line to answer with. */
export type ParsedRequest = { ok: true; request: TrackerRequest } | { ok: false; code: TrackerErrorCode; message: string };

/** A reply that is not a line of this protocol (client side). */
export class TrackerProtocolError extends Error {
  override readonly name = 'TrackerProtocolError';
  readonly code = 'ERR_TRACKER_PROTOCOL';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

// ---------------------------------------------------------------------------
// Requests

const HOST_NAME_RE = /^[A-Za-z0-9_.-]+$/;
const PORT_RE = /^[0-9]{1,5}$/;
const PID_ARGUMENT_RE = /^[\x21-\x7e]+$/;

function fail(code: TrackerErrorCode, message: string): ParsedRequest {
  return { ok: false, code, message };
}

/**
 * Checks a HOST of JOIN_CHAIN: a host name of `[A-Za-z0-9_.-]` up to 253
 * characters, an IPv4 address, or an IPv6 address in brackets (`[::1]`; the
 * brackets keep the last `:` the one before PORT).
 * @returns the host without brackets, or undefined when it is not one.
 */
export function parseHost(text: string): string | undefined {
  if (text.startsWith('[') && text.endsWith(']')) {
    const inner = text.slice(1, -1);
    return isIPv6(inner) ? inner : undefined;
  }
  if (text.length === 0 || text.length > MAX_HOST_LENGTH) return undefined;
  if (isIPv4(text)) return text;
  return HOST_NAME_RE.test(text) ? text : undefined;
}

/** Parses a decimal port 1–65535; undefined otherwise. */
export function parsePort(text: string): number | undefined {
  if (!PORT_RE.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= MAX_PORT ? port : undefined;
}

/**
 * Parses one request (a line without its LF; a trailing CR is removed here).
 * Commands are case-sensitive, as document 001 writes them.
 * @returns the request, or the error code and message to answer with; never throws.
 */
export function parseRequest(line: string): ParsedRequest {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  const colon = text.indexOf(':');
  const command = colon < 0 ? text : text.slice(0, colon);
  const args = colon < 0 ? undefined : text.slice(colon + 1);
  switch (command) {
    case COMMANDS.join: {
      if (args === undefined) return fail('MALFORMED', 'expected JOIN_CHAIN:HOST:PORT');
      const last = args.lastIndexOf(':');
      if (last < 0) return fail('MALFORMED', 'expected JOIN_CHAIN:HOST:PORT');
      const host = parseHost(args.slice(0, last));
      if (host === undefined) return fail('MALFORMED', 'HOST must be a host name, an IPv4 address or an [IPv6] address');
      const port = parsePort(args.slice(last + 1));
      if (port === undefined) return fail('MALFORMED', `PORT must be a decimal number from 1 to ${MAX_PORT}`);
      return { ok: true, request: { type: 'join', host, port } };
    }
    case COMMANDS.getPeers: {
      if (args === undefined || args.length === 0) return fail('MALFORMED', 'expected GET_PEERS:PID');
      if (!PID_ARGUMENT_RE.test(args)) return fail('MALFORMED', 'PID must be printable ASCII without spaces');
      return { ok: true, request: { type: 'get-peers', peerId: args } };
    }
    default:
      return fail('UNKNOWN_COMMAND', 'expected JOIN_CHAIN:HOST:PORT or GET_PEERS:PID');
  }
}

/** What a buffered request without line end amounts to (see {@link classifyPartial}). */
export type PartialRequest = 'complete' | 'incomplete' | 'invalid';

/** Longest bracketed IPv6 literal, characters (`[` + 45 + `]`). */
const IPV6_LITERAL_MAX = 47;

/**
 * Classifies the bytes of a request that has no line end yet, for the idle
 * flush of the framing rule:
 * - `complete`: it parses as a request; the server answers it after
 *   {@link IDLE_FLUSH_MS} of silence.
 * - `incomplete`: a prefix of a valid request (`JOIN_CHAIN:local`); the
 *   server keeps waiting for more bytes.
 * - `invalid`: no byte sequence appended can make it valid (`HELLO`,
 *   `JOIN_CHAIN:host:99999`); the server answers with the error line.
 */
export function classifyPartial(text: string): PartialRequest {
  const t = text.endsWith('\r') ? text.slice(0, -1) : text;
  if (t.length === 0) return 'incomplete';
  if (parseRequest(t).ok) return 'complete';
  for (const command of Object.values(COMMANDS)) {
    const head = `${command}:`;
    if (head.startsWith(t)) return 'incomplete';
  }
  if (t.startsWith(`${COMMANDS.join}:`)) return joinArgsCanGrow(t.slice(COMMANDS.join.length + 1)) ? 'incomplete' : 'invalid';
  // GET_PEERS: with an argument always parses unless it holds spaces or control bytes, which nothing appended can fix.
  return 'invalid';
}

/** Whether the arguments of a JOIN_CHAIN that does not parse yet can become valid as more bytes arrive. */
function joinArgsCanGrow(args: string): boolean {
  let portPart: string | undefined;
  if (args.startsWith('[')) {
    const close = args.indexOf(']');
    if (close < 0) return /^\[[0-9A-Fa-f:.]*$/.test(args) && args.length <= IPV6_LITERAL_MAX;
    const after = args.slice(close + 1);
    if (after.length === 0) return true;
    if (!after.startsWith(':')) return false;
    portPart = after.slice(1);
  } else {
    const colon = args.indexOf(':');
    const host = colon < 0 ? args : args.slice(0, colon);
    if (host.length > MAX_HOST_LENGTH || (host.length > 0 && !HOST_NAME_RE.test(host))) return false;
    if (colon < 0) return true;
    if (host.length === 0) return false;
    portPart = args.slice(colon + 1);
  }
  return /^[0-9]{0,5}$/.test(portPart) && (portPart.length === 0 || Number(portPart) <= MAX_PORT);
}

/** The request line the client sends, with {@link REQUEST_TERMINATOR}. */
export function encodeRequest(request: TrackerRequest): string {
  switch (request.type) {
    case 'join': {
      const host = request.host.includes(':') ? `[${request.host}]` : request.host;
      return `${COMMANDS.join}:${host}:${request.port}${REQUEST_TERMINATOR}`;
    }
    case 'get-peers':
      return `${COMMANDS.getPeers}:${request.peerId}${REQUEST_TERMINATOR}`;
  }
}

// ---------------------------------------------------------------------------
// Responses

/** One entry of a `CPSS` list on the wire: `port` is a JSON number (document 001's sample shows strings; the client accepts both). */
export interface WirePeer {
  peer_id: string;
  host: string;
  port: number;
}

/** A response as one line, {@link RESPONSE_TERMINATOR} included. */
export function encodeResponse(response: TrackerResponse): string {
  switch (response.type) {
    case 'greeting':
      return GREETING + RESPONSE_TERMINATOR;
    case 'joined':
      return response.peerId + RESPONSE_TERMINATOR;
    case 'peers': {
      const wire: WirePeer[] = response.peers.map((p) => ({ peer_id: p.peerId, host: p.host, port: p.port }));
      return PEERS_PREFIX + JSON.stringify(wire) + RESPONSE_TERMINATOR;
    }
    case 'error':
      return `${ERROR_PREFIX} ${response.code} ${oneLine(response.message)}${RESPONSE_TERMINATOR}`;
  }
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ');
}

const wirePortSchema = z.union([z.number().int().min(1).max(MAX_PORT), z.string().regex(PORT_RE).transform(Number).pipe(z.number().int().min(1).max(MAX_PORT))]);

/** Schema of a `CPSS` list entry as the client accepts it: extra keys (the original's `socket`) are ignored, a port may be a string. */
const wirePeerSchema = z.object({
  peer_id: z.string().regex(FOREIGN_PID_PATTERN),
  host: z.string().min(1).max(MAX_HOST_LENGTH),
  port: wirePortSchema,
});
const wirePeersSchema = z.array(wirePeerSchema).max(MAX_PEERS_PER_REPLY);

/**
 * Parses one response line (without or with its CRLF/LF).
 * @throws TrackerProtocolError when the line is none of greeting, `PID…`, `CPSS[…]` or `ERROR …`,
 *   or a `CPSS` list is not JSON of `{peer_id, host, port}` entries.
 */
export function parseResponse(line: string): TrackerResponse {
  const text = line.replace(/\r?\n$/, '');
  if (text === GREETING) return { type: 'greeting' };
  if (text.startsWith(PEERS_PREFIX)) {
    let json: unknown;
    try {
      json = JSON.parse(text.slice(PEERS_PREFIX.length));
    } catch (err) {
      throw new TrackerProtocolError('the CPSS list is not JSON', { cause: err });
    }
    const parsed = wirePeersSchema.safeParse(json);
    if (!parsed.success) throw new TrackerProtocolError(`the CPSS list is not a list of {peer_id, host, port}: ${parsed.error.issues[0]?.message ?? ''}`);
    return { type: 'peers', peers: parsed.data.map((p) => ({ peerId: p.peer_id, host: p.host, port: p.port })) };
  }
  if (text.startsWith(`${ERROR_PREFIX} `) || text === ERROR_PREFIX) {
    const rest = text.slice(ERROR_PREFIX.length + 1);
    const space = rest.indexOf(' ');
    return space < 0 ? { type: 'error', code: rest, message: '' } : { type: 'error', code: rest.slice(0, space), message: rest.slice(space + 1) };
  }
  if (FOREIGN_PID_PATTERN.test(text)) return { type: 'joined', peerId: text };
  throw new TrackerProtocolError(`unexpected reply ${JSON.stringify(text.length > 80 ? text.slice(0, 80) + '…' : text)}`);
}

// ---------------------------------------------------------------------------
// Line framing

/** What one chunk of bytes yielded. */
export interface LineDecodeStep {
  /** Complete lines, without LF (a trailing CR is left for {@link parseRequest}). */
  lines: string[];
  /** True when a line exceeded the limit: the stream is unusable and must be closed; nothing past the limit was kept. */
  overflow: boolean;
}

/**
 * Incremental splitter of a byte stream into LF-terminated lines, holding at
 * most `maxLineBytes` of an unfinished line. The limit is checked before
 * bytes are copied, so an endless line costs at most `maxLineBytes` of memory.
 * After an overflow the decoder yields nothing more.
 */
export class LineDecoder {
  private partial: Buffer = Buffer.alloc(0);
  private broken = false;

  constructor(private readonly maxLineBytes: number = MAX_REQUEST_LINE_BYTES) {
    if (!Number.isSafeInteger(maxLineBytes) || maxLineBytes < 1) throw new RangeError('maxLineBytes must be a positive integer');
  }

  /** Feeds a chunk; returns the lines it completed and whether the limit was crossed. */
  push(chunk: Uint8Array): LineDecodeStep {
    const lines: string[] = [];
    if (this.broken) return { lines, overflow: true };
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = 0;
    for (;;) {
      const lf = bytes.indexOf(0x0a, start);
      if (lf < 0) break;
      const length = this.partial.length + (lf - start);
      if (length > this.maxLineBytes) return this.overflow(lines);
      const line = this.partial.length > 0 ? Buffer.concat([this.partial, bytes.subarray(start, lf)]) : bytes.subarray(start, lf);
      this.partial = Buffer.alloc(0);
      lines.push(line.toString('utf8'));
      start = lf + 1;
    }
    const rest = bytes.length - start;
    if (this.partial.length + rest > this.maxLineBytes) return this.overflow(lines);
    if (rest > 0) this.partial = Buffer.concat([this.partial, bytes.subarray(start)]);
    return { lines, overflow: false };
  }

  /** Bytes of the unfinished line, decoded as UTF-8. */
  peekPartial(): string {
    return this.partial.toString('utf8');
  }

  /** Number of bytes of the unfinished line. */
  get partialBytes(): number {
    return this.partial.length;
  }

  /** Returns the unfinished line and forgets it (the idle flush took it as a request). */
  takePartial(): string {
    const text = this.partial.toString('utf8');
    this.partial = Buffer.alloc(0);
    return text;
  }

  private overflow(lines: string[]): LineDecodeStep {
    this.broken = true;
    this.partial = Buffer.alloc(0);
    return { lines, overflow: true };
  }
}

// ---------------------------------------------------------------------------
// Peer ids

/**
 * Makes a peer id from {@link PID_RANDOM_BYTES} random bytes: `PID` + 32
 * lower-case hex digits. Unique per member (the original handed every peer
 * the same id, a bug document 001's summary says not to repeat); the server
 * draws again on the astronomically unlikely collision.
 * @throws RangeError when `random` is not PID_RANDOM_BYTES long.
 */
export function makePeerId(random: Uint8Array): string {
  if (random.length !== PID_RANDOM_BYTES) throw new RangeError(`a peer id needs ${PID_RANDOM_BYTES} random bytes, got ${random.length}`);
  return PID_PREFIX + Buffer.from(random).toString('hex');
}
