import { isIPv6 } from 'node:net';
import { assertNever } from '../core/reject.js';
import { AddressPolicy, isLoopback, normalizeIp, subnetOf } from '../transport/net-address.js';
import type { JoinRequest, JoinResult } from './member-table.js';
import {
  classifyPartial,
  LineDecoder,
  MAX_PEERS_PER_REPLY,
  MAX_REQUEST_LINE_BYTES,
  parseRequest,
  type TrackerPeer,
  type TrackerRequest,
  type TrackerResponse,
} from './protocol.js';

/**
 * A request without line end that is still only a prefix of a valid command
 * (`JOIN_CHAIN:localhost`) this long after its last byte is answered
 * `ERROR MALFORMED` and dropped, ms. Keeps a client that forgot a field from
 * waiting forever.
 */
export const PARTIAL_REQUEST_TIMEOUT_MS = 5_000;

/** Hosts that mean "every interface": a member joining with one is recorded at the address its connection came from. */
const UNSPECIFIED_HOSTS = new Set(['0.0.0.0', '::']);

/** The default address policy: loopback exempt, nothing else. */
const LOOPBACK_ONLY = new AddressPolicy();

/** What the text protocol needs of the member table (a {@link MemberTable} fits). */
export interface TrackerDirectory {
  join(request: JoinRequest): JoinResult;
  has(peerId: string): boolean;
  /** Up to `max` members other than `except`. */
  sample(except: string | undefined, max: number): TrackerPeer[];
}

/** Strips the IPv4-mapped prefix Node gives IPv4 clients of a dual-stack socket. */
export function plainAddress(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  return address.startsWith('::ffff:') && !isIPv6(address.slice(7)) ? address.slice(7) : address;
}

/** Prefix length by which IPv6 sources are counted: an end site gets at least a /64 (RFC 6177), so one holder has them all. */
export const SOURCE_PREFIX_V6 = 64;

/** The source key of a connection's address: the IPv4 address itself, an IPv6 address by its /64. */
export function sourceKey(address: string): string {
  const a = normalizeIp(address);
  return isIPv6(a) ? (subnetOf(a, 32, SOURCE_PREFIX_V6) ?? a) : a;
}

/**
 * The host a member is recorded with: the address its JOIN_CHAIN came from,
 * since a remote's claim is never trusted for where the tracker sends other
 * peers and its own probes. The claimed HOST is kept only when it names
 * that same address, or both are loopback (`localhost`, 127.0.0.0/8, `::1`
 * from a loopback connection); `0.0.0.0`, `::` and every other host are
 * replaced by the connection's address. Without a known address (the
 * socket is already gone) the claim stands.
 */
export function memberHost(claimed: string, remoteAddress: string | undefined): string {
  const remote = plainAddress(remoteAddress);
  if (remote === undefined) return claimed;
  if (UNSPECIFIED_HOSTS.has(claimed)) return remote;
  if (normalizeIp(claimed) === normalizeIp(remote)) return claimed;
  if (isLoopback(claimed) && isLoopback(remote)) return claimed;
  return remote;
}

/**
 * Answers one parsed request of document 001 from `directory`:
 * JOIN_CHAIN → the PID, the member recorded at {@link memberHost} and
 * counted against the quota of its source ({@link sourceKey}; `policy`
 * says which sources are exempt); GET_PEERS → up to
 * {@link MAX_PEERS_PER_REPLY} other members, or `UNKNOWN_PEER` for a PID
 * the tracker does not hold.
 */
export function answerRequest(directory: TrackerDirectory, request: TrackerRequest, remoteAddress: string | undefined, policy: AddressPolicy = LOOPBACK_ONLY): TrackerResponse {
  switch (request.type) {
    case 'join': {
      const remote = plainAddress(remoteAddress);
      const host = memberHost(request.host, remote);
      const source = remote === undefined ? undefined : { key: sourceKey(remote), exempt: policy.isExempt(remote) };
      const result = directory.join(source === undefined ? { host, port: request.port } : { host, port: request.port, source });
      return result.ok ? { type: 'joined', peerId: result.member.peerId } : { type: 'error', code: result.code, message: result.message };
    }
    case 'get-peers': {
      if (!directory.has(request.peerId)) return { type: 'error', code: 'UNKNOWN_PEER', message: 'unknown peer id; send JOIN_CHAIN:HOST:PORT' };
      const peers = directory.sample(request.peerId, MAX_PEERS_PER_REPLY).map((m) => ({ peerId: m.peerId, host: m.host, port: m.port }));
      return { type: 'peers', peers };
    }
    default:
      return assertNever(request);
  }
}

/**
 * What the connection must do after a step of a {@link TextSession}:
 * - `read`: nothing is buffered; wait for bytes (no timer).
 * - `flush-when-idle`: a request without line end is buffered; call
 *   {@link TextSession.idle} after the idle-flush time of silence.
 * - `give-up-when-idle`: the buffered bytes are a prefix of a valid request;
 *   call {@link TextSession.giveUp} after {@link PARTIAL_REQUEST_TIMEOUT_MS} of silence.
 * - `close`: write the replies, then end the connection; read nothing more.
 */
export type TextSessionNext = 'read' | 'flush-when-idle' | 'give-up-when-idle' | 'close';

/** One step of a {@link TextSession}: the lines to write, in order, and what to do next. */
export interface TextStep {
  readonly replies: TrackerResponse[];
  readonly next: TextSessionNext;
}

/**
 * One connection of the tracker's text protocol (document 001, with the
 * framing of `protocol.ts`) as a pure state machine: bytes in, reply lines
 * out. It owns the line decoder and the rules for a request sent without
 * line end; the connection owns the socket and the two timers the steps ask
 * for, and calls back when they fire. Any new bytes cancel both timers.
 */
export class TextSession {
  private readonly decoder: LineDecoder;
  private closed = false;
  private readonly maxLineBytes: number;

  /**
   * @param answer answers one parsed request (see {@link answerRequest}).
   * @param maxLineBytes longest request line, bytes. @default {@link MAX_REQUEST_LINE_BYTES}
   * @throws RangeError when `maxLineBytes` is not a positive integer.
   */
  constructor(
    private readonly answer: (request: TrackerRequest) => TrackerResponse,
    maxLineBytes: number = MAX_REQUEST_LINE_BYTES,
  ) {
    this.maxLineBytes = maxLineBytes;
    this.decoder = new LineDecoder(maxLineBytes);
  }

  /** The first line of every connection: `Connection Successful` (document 001, "Connection Response"). */
  open(): TextStep {
    return { replies: [{ type: 'greeting' }], next: 'read' };
  }

  /**
   * Bytes arrived: every complete line (LF or CRLF) is answered in order; an
   * empty line is ignored. A line over the limit is answered
   * `ERROR REQUEST_TOO_LONG` and closes the session.
   */
  receive(chunk: Uint8Array): TextStep {
    if (this.closed) return { replies: [], next: 'close' };
    const step = this.decoder.push(chunk);
    const replies: TrackerResponse[] = [];
    for (const line of step.lines) this.handleLine(line, replies);
    if (step.overflow) {
      this.closed = true;
      replies.push({ type: 'error', code: 'REQUEST_TOO_LONG', message: `a request is at most ${this.maxLineBytes} bytes` });
      return { replies, next: 'close' };
    }
    return { replies, next: this.decoder.partialBytes > 0 ? 'flush-when-idle' : 'read' };
  }

  /**
   * The connection stayed quiet for the idle-flush time with a request
   * without line end buffered: a complete request is answered, one that can
   * never become valid gets its error line, a prefix of a valid one waits
   * for more (`give-up-when-idle`).
   */
  idle(): TextStep {
    if (this.closed || this.decoder.partialBytes === 0) return { replies: [], next: this.closed ? 'close' : 'read' };
    const state = classifyPartial(this.decoder.peekPartial());
    switch (state) {
      case 'complete': {
        const replies: TrackerResponse[] = [];
        this.handleLine(this.decoder.takePartial(), replies);
        return { replies, next: 'read' };
      }
      case 'invalid': {
        const parsed = parseRequest(this.decoder.takePartial());
        const reply: TrackerResponse = parsed.ok ? { type: 'error', code: 'MALFORMED', message: 'bad request' } : { type: 'error', code: parsed.code, message: parsed.message };
        return { replies: [reply], next: 'read' };
      }
      case 'incomplete':
        return { replies: [], next: 'give-up-when-idle' };
      default:
        return assertNever(state);
    }
  }

  /** A prefix of a request saw nothing more for {@link PARTIAL_REQUEST_TIMEOUT_MS}: it is dropped with `ERROR MALFORMED`. */
  giveUp(): TextStep {
    if (this.closed || this.decoder.partialBytes === 0) return { replies: [], next: this.closed ? 'close' : 'read' };
    this.decoder.takePartial();
    return { replies: [{ type: 'error', code: 'MALFORMED', message: `incomplete request, nothing more came within ${PARTIAL_REQUEST_TIMEOUT_MS} ms` }], next: 'read' };
  }

  /** The client closed its sending side: an unterminated request is answered as it stands, then the session closes. */
  end(): TextStep {
    const replies: TrackerResponse[] = [];
    if (!this.closed && this.decoder.partialBytes > 0) this.handleLine(this.decoder.takePartial(), replies);
    this.closed = true;
    return { replies, next: 'close' };
  }

  private handleLine(line: string, replies: TrackerResponse[]): void {
    const text = line.endsWith('\r') ? line.slice(0, -1) : line;
    // A bare line end, e.g. the CRLF after a request the idle flush already answered.
    if (text.length === 0) return;
    const parsed = parseRequest(text);
    replies.push(parsed.ok ? this.answer(parsed.request) : { type: 'error', code: parsed.code, message: parsed.message });
  }
}
