import { connect } from 'node:net';
import {
  DEFAULT_TRACKER_PORT,
  encodeRequest,
  LineDecoder,
  MAX_RESPONSE_LINE_BYTES,
  parseResponse,
  TrackerProtocolError,
  type TrackerPeer,
  type TrackerRequest,
  type TrackerResponse,
} from './protocol.js';

/*
 * What a peer uses to talk to the tracker (document 001): one short TCP
 * connection per call — connect, read the greeting, send one request line,
 * read one reply line, close — so there is no session to lose and nothing
 * to reconnect. A peer whose GET_PEERS fails with `ERR_TRACKER_UNKNOWN_PEER`
 * was dropped by the tracker's liveness check (or the tracker restarted) and
 * simply joins again.
 */

/** @default 5000 — budget of one call (connect, greeting, request, reply), ms. */
export const DEFAULT_TRACKER_TIMEOUT_MS = 5_000;

/** Codes of {@link TrackerError}. */
export const TRACKER_CLIENT_ERROR_CODES = [
  /** The TCP connect failed (refused, unreachable, DNS). */
  'ERR_TRACKER_UNREACHABLE',
  /** The call did not finish within its timeout. */
  'ERR_TRACKER_TIMEOUT',
  /** The tracker closed the connection before replying. */
  'ERR_TRACKER_CLOSED',
  /** The tracker's bytes were not this protocol (no greeting, an unknown reply, a bad CPSS list, a reply over the size limit). */
  'ERR_TRACKER_PROTOCOL',
  /** GET_PEERS with a peer id the tracker does not know: join again. */
  'ERR_TRACKER_UNKNOWN_PEER',
  /** The tracker answered with another error line (`remoteCode` says which, e.g. TRACKER_FULL, MALFORMED). */
  'ERR_TRACKER_REFUSED',
] as const;
export type TrackerClientErrorCode = (typeof TRACKER_CLIENT_ERROR_CODES)[number];

/** Why a tracker call failed. */
export class TrackerError extends Error {
  override readonly name = 'TrackerError';
  constructor(
    readonly code: TrackerClientErrorCode,
    message: string,
    /** The code of the tracker's `ERROR <CODE> …` line, when it sent one. */
    readonly remoteCode?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Where the tracker is. */
export interface TrackerAddress {
  host: string;
  /** @default {@link DEFAULT_TRACKER_PORT} */
  port?: number;
  /** Budget of one call, ms. @default {@link DEFAULT_TRACKER_TIMEOUT_MS} */
  timeoutMs?: number;
  /** Local address to connect from (the tracker records a member at the address its join comes from). @default the system's choice */
  localAddress?: string;
}

/** Options of {@link joinTracker}. */
export interface JoinTrackerOptions extends TrackerAddress {
  /** Host other peers should dial to reach this peer's peer protocol (`0.0.0.0` makes the tracker use the address the request came from). */
  listenHost: string;
  /** Port of this peer's peer protocol, 1–65535. */
  listenPort: number;
}

/** Options of {@link getPeers}. */
export interface GetPeersOptions extends TrackerAddress {
  /** The `PID…` {@link joinTracker} returned. */
  peerId: string;
}

/**
 * Sends one request and resolves with the tracker's reply (an `ERROR` line
 * included, as a response of type `error`).
 * @throws TrackerError ERR_TRACKER_UNREACHABLE, ERR_TRACKER_TIMEOUT, ERR_TRACKER_CLOSED, ERR_TRACKER_PROTOCOL.
 */
export function requestTracker(address: TrackerAddress, request: TrackerRequest): Promise<TrackerResponse> {
  const port = address.port ?? DEFAULT_TRACKER_PORT;
  const timeoutMs = address.timeoutMs ?? DEFAULT_TRACKER_TIMEOUT_MS;
  const where = `${address.host}:${port}`;
  return new Promise((resolve, reject) => {
    let settled = false;
    let connected = false;
    let greeted = false;
    const decoder = new LineDecoder(MAX_RESPONSE_LINE_BYTES);
    const socket = connect({ host: address.host, port, ...(address.localAddress !== undefined ? { localAddress: address.localAddress } : {}) });
    const done = (err: TrackerError | undefined, response?: TrackerResponse): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(response!);
    };
    const timer = setTimeout(() => done(new TrackerError('ERR_TRACKER_TIMEOUT', `tracker ${where} did not answer within ${timeoutMs} ms`)), timeoutMs);
    socket.setNoDelay(true);
    socket.on('connect', () => {
      connected = true;
    });
    socket.on('data', (chunk: Buffer) => {
      const step = decoder.push(chunk);
      for (const line of step.lines) {
        let response: TrackerResponse;
        try {
          response = parseResponse(line);
        } catch (err) {
          done(new TrackerError('ERR_TRACKER_PROTOCOL', `tracker ${where}: ${(err as TrackerProtocolError).message}`, undefined, { cause: err }));
          return;
        }
        if (!greeted) {
          if (response.type !== 'greeting') {
            done(new TrackerError('ERR_TRACKER_PROTOCOL', `tracker ${where} did not greet with "Connection Successful"`));
            return;
          }
          greeted = true;
          socket.write(encodeRequest(request));
          continue;
        }
        done(undefined, response);
        return;
      }
      if (step.overflow) done(new TrackerError('ERR_TRACKER_PROTOCOL', `tracker ${where} sent a line over ${MAX_RESPONSE_LINE_BYTES} bytes`));
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const code = connected ? 'ERR_TRACKER_CLOSED' : 'ERR_TRACKER_UNREACHABLE';
      done(new TrackerError(code, `tracker ${where}: ${err.code ?? err.message}`, undefined, { cause: err }));
    });
    socket.on('close', () => done(new TrackerError('ERR_TRACKER_CLOSED', `tracker ${where} closed the connection before replying`)));
  });
}

function refused(where: string, response: { code: string; message: string }): TrackerError {
  const code: TrackerClientErrorCode = response.code === 'UNKNOWN_PEER' ? 'ERR_TRACKER_UNKNOWN_PEER' : 'ERR_TRACKER_REFUSED';
  return new TrackerError(code, `tracker ${where} refused: ${response.code} ${response.message}`.trim(), response.code);
}

function unexpected(where: string, wanted: string, got: TrackerResponse): TrackerError {
  return new TrackerError('ERR_TRACKER_PROTOCOL', `tracker ${where} answered ${got.type} where ${wanted} was expected`);
}

/**
 * Joins the tracker (`JOIN_CHAIN:HOST:PORT`, document 001). Joining again
 * from the same HOST:PORT returns the same peer id.
 * @returns the peer id (`PID…`).
 * @throws TrackerError: the transport codes of {@link requestTracker};
 *   ERR_TRACKER_REFUSED (`remoteCode` TRACKER_FULL or MALFORMED);
 *   RangeError, before connecting, for a port outside 1–65535.
 */
export async function joinTracker(options: JoinTrackerOptions): Promise<{ peerId: string }> {
  if (!Number.isInteger(options.listenPort) || options.listenPort < 1 || options.listenPort > 65_535) {
    throw new RangeError(`listenPort must be an integer from 1 to 65535, got ${String(options.listenPort)}`);
  }
  const where = `${options.host}:${options.port ?? DEFAULT_TRACKER_PORT}`;
  const response = await requestTracker(options, { type: 'join', host: options.listenHost, port: options.listenPort });
  switch (response.type) {
    case 'joined':
      return { peerId: response.peerId };
    case 'error':
      throw refused(where, response);
    case 'greeting':
    case 'peers':
      throw unexpected(where, 'a PID', response);
  }
}

/**
 * Lists the other members (`GET_PEERS:PID`, document 001): at most 1,000,
 * never the caller itself.
 * @throws TrackerError: the transport codes of {@link requestTracker};
 *   ERR_TRACKER_UNKNOWN_PEER when the tracker does not know `peerId` (join again).
 */
export async function getPeers(options: GetPeersOptions): Promise<TrackerPeer[]> {
  const where = `${options.host}:${options.port ?? DEFAULT_TRACKER_PORT}`;
  const response = await requestTracker(options, { type: 'get-peers', peerId: options.peerId });
  switch (response.type) {
    case 'peers':
      return response.peers;
    case 'error':
      throw refused(where, response);
    case 'greeting':
    case 'joined':
      throw unexpected(where, 'a CPSS list', response);
  }
}

/**
 * A tracker address bound once, for a peer's tracker-client actor:
 * `join(listenHost, listenPort)` then `getPeers()` as often as it likes;
 * `getPeers` joins again by itself when the tracker has forgotten this peer.
 */
export class TrackerClient {
  private peerId: string | undefined;
  private listen: { host: string; port: number } | undefined;

  constructor(private readonly address: TrackerAddress) {}

  /** The peer id of the last successful join. */
  get currentPeerId(): string | undefined {
    return this.peerId;
  }

  /** Joins and remembers the peer id. @throws as {@link joinTracker}. */
  async join(listenHost: string, listenPort: number): Promise<string> {
    const { peerId } = await joinTracker({ ...this.address, listenHost, listenPort });
    this.peerId = peerId;
    this.listen = { host: listenHost, port: listenPort };
    return peerId;
  }

  /**
   * The other members. When the tracker answers UNKNOWN_PEER (its liveness
   * check dropped us, or it restarted), joins again once and retries.
   * @throws TrackerError as {@link getPeers}; Error when {@link join} was never called.
   */
  async getPeers(): Promise<TrackerPeer[]> {
    if (this.peerId === undefined || this.listen === undefined) throw new Error('TrackerClient.getPeers called before join');
    try {
      return await getPeers({ ...this.address, peerId: this.peerId });
    } catch (err) {
      if (!(err instanceof TrackerError) || err.code !== 'ERR_TRACKER_UNKNOWN_PEER') throw err;
      await this.join(this.listen.host, this.listen.port);
      return getPeers({ ...this.address, peerId: this.peerId });
    }
  }
}
