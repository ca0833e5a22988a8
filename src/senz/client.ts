import { systemClock, type Clock } from '../core/clock.js';
import { createSocket, type Socket } from 'node:dgram';
import { attribute, attributeValue, parseSenz, SenzParseError, type SenzMessage } from './grammar.js';
import { parsePublicKeyBase64, publicKeyBase64, sealSenz, SenzKeyError, verifyText, type SenzKeyPair, type SenzPublicKey } from './keys.js';
import { PING, SWITCH_REPLY } from './replies.js';
import { DEFAULT_SWITCH_NAME } from './switch.js';

/** @default 5000 — how long a request waits for its reply, ms. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;

/** Why a Senz client call failed. */
export type SenzClientErrorReason = 'timeout' | 'registration-failed' | 'bad-reply' | 'closed';

export class SenzClientError extends Error {
  override readonly name = 'SenzClientError';
  readonly code = 'ERR_SENZ_CLIENT';
  constructor(
    readonly reason: SenzClientErrorReason,
    message: string,
  ) {
    super(message);
  }
}

export interface SenzClientOptions {
  /** The client's name (`^name`). */
  name: string;
  key: SenzKeyPair;
  switchHost: string;
  switchPort: number;
  /** @default 'mysensors' */
  switchName?: string;
  /** The switch's key when already known (else learnt from REGISTRATION_DONE). */
  switchKey?: SenzPublicKey;
  /** Local interface to bind. @default '127.0.0.1' */
  bindHost?: string;
  /** The clock (unix ms). @default systemClock */
  clock?: Clock;
}

/** A message received by a client, with where it came from. */
export interface ReceivedSenz {
  msg: SenzMessage;
  raw: string;
  /** True when it came from the switch's address (everything does, unless someone spoofs UDP). */
  fromSwitch: boolean;
  /** True when signed by the switch with its known key. */
  switchSigned: boolean;
}

/**
 * A Senz client of document 000 over UDP: signs each message with its key
 * (adding `#time` when absent), sends it to the switch, and hands every
 * message it receives to its listeners and to pending {@link request}s.
 * `PING` lines from the switch are dropped here.
 */
export class SenzClient {
  readonly name: string;
  readonly switchName: string;
  private switchKey: SenzPublicKey | undefined;
  private readonly listeners = new Set<(r: ReceivedSenz) => void>();
  private readonly waiters = new Set<{ match: (r: ReceivedSenz) => boolean; resolve: (r: ReceivedSenz) => void }>();
  private readonly now: () => number;
  private lastTime = 0;
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly o: SenzClientOptions,
  ) {
    this.name = o.name;
    this.switchName = o.switchName ?? DEFAULT_SWITCH_NAME;
    this.switchKey = o.switchKey;
    const clock = o.clock ?? systemClock;
    this.now = () => clock.nowMs();
    socket.on('message', (data, rinfo) => this.onDatagram(data.toString('latin1'), rinfo.address, rinfo.port));
    socket.on('error', () => undefined);
  }

  /** Binds a UDP socket on an ephemeral port. */
  static async open(o: SenzClientOptions): Promise<SenzClient> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, o.bindHost ?? '127.0.0.1', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new SenzClient(socket, o);
  }

  /** The switch's key, once known. */
  get knownSwitchKey(): SenzPublicKey | undefined {
    return this.switchKey;
  }

  /** The local UDP port. */
  get port(): number {
    return this.socket.address().port;
  }

  /** Subscribes to every received message; returns the unsubscribe function. */
  onMessage(listener: (r: ReceivedSenz) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private onDatagram(text: string, host: string, port: number): void {
    if (text === PING) return;
    let msg: SenzMessage;
    try {
      msg = parseSenz(text);
    } catch (err) {
      if (err instanceof SenzParseError) return;
      throw err;
    }
    const fromSwitch = host === this.o.switchHost && port === this.o.switchPort;
    let switchKey = this.switchKey;
    // REGISTRATION_DONE carries the switch's key and is signed with it (trust on first use, as the original clients).
    const code = attributeValue(msg, 'msg');
    // Only a registration answer carries the switch's own key (a GET #pubkey answer carries another user's).
    const registrationReply = code === SWITCH_REPLY.registrationDone || code === SWITCH_REPLY.alreadyRegistered;
    if (!switchKey && fromSwitch && msg.sender === this.switchName && registrationReply) {
      const k = attributeValue(msg, 'pubkey');
      try {
        switchKey = k ? parsePublicKeyBase64(k) : undefined;
      } catch (err) {
        if (!(err instanceof SenzKeyError)) throw err;
      }
    }
    const switchSigned = fromSwitch && msg.sender === this.switchName && switchKey !== undefined && verifyText(switchKey, msg.signedText, msg.signature);
    if (switchSigned && !this.switchKey) this.switchKey = switchKey;
    const r: ReceivedSenz = { msg, raw: text, fromSwitch, switchSigned };
    for (const w of [...this.waiters]) {
      if (w.match(r)) {
        this.waiters.delete(w);
        w.resolve(r);
        return;
      }
    }
    for (const l of this.listeners) l(r);
  }

  /**
   * Signs and sends `text` (a message without `^sender`); adds `#time` (unix
   * seconds with milliseconds, strictly increasing) when the text has none.
   * @returns the datagram sent.
   */
  send(text: string): string {
    if (this.closed) throw new SenzClientError('closed', 'client closed');
    let body = text.trim();
    if (!/(^|\s)#time(\s|$)/.test(body)) {
      const t = Math.max(this.now(), this.lastTime + 1);
      this.lastTime = t;
      body = `${body} #time ${(t / 1000).toFixed(3)}`;
    }
    const sealed = sealSenz(body, this.name, this.o.key.privateKey);
    this.socket.send(Buffer.from(sealed, 'latin1'), this.o.switchPort, this.o.switchHost);
    return sealed;
  }

  /** Sends an already signed datagram unchanged (tests replay with it). */
  sendRaw(datagram: string): void {
    this.socket.send(Buffer.from(datagram, 'latin1'), this.o.switchPort, this.o.switchHost);
  }

  /** Resolves with the next received message that `match` accepts. @throws SenzClientError `timeout` */
  waitFor(match: (r: ReceivedSenz) => boolean, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<ReceivedSenz> {
    return new Promise((resolve, reject) => {
      const w = {
        match,
        resolve: (r: ReceivedSenz) => {
          clearTimeout(timer);
          resolve(r);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new SenzClientError('timeout', `no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  /** Sends `text` and waits for the first reply `match` accepts. */
  async request(text: string, match: (r: ReceivedSenz) => boolean, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<ReceivedSenz> {
    const reply = this.waitFor(match, timeoutMs);
    this.send(text);
    return reply;
  }

  /**
   * Registers with the switch: `SHARE #pubkey <key> @<switch>`.
   * @returns REGISTRATION_DONE or ALREADY_REGISTERED (both leave the client registered).
   * @throws SenzClientError `registration-failed` (with the switch's `#reason`) or `timeout`.
   */
  async register(timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<'REGISTRATION_DONE' | 'ALREADY_REGISTERED'> {
    const r = await this.request(`SHARE #pubkey ${publicKeyBase64(this.o.key.publicKey)} @${this.switchName}`, (r) => this.fromSwitchName(r) && attribute(r.msg, 'msg') !== undefined, timeoutMs);
    const code = attributeValue(r.msg, 'msg');
    if (code === SWITCH_REPLY.registrationDone || code === SWITCH_REPLY.alreadyRegistered) return code;
    throw new SenzClientError('registration-failed', `registration refused: ${code ?? '?'}${attributeValue(r.msg, 'reason') ? ` (${attributeValue(r.msg, 'reason')})` : ''}`);
  }

  /** Signed by the switch, or — before its key is known, as for a REGISTRATION_FAIL, which carries none — sent from its address under its name. */
  private fromSwitchName(r: ReceivedSenz): boolean {
    return r.switchSigned || (this.switchKey === undefined && r.fromSwitch && r.msg.sender === this.switchName);
  }

  /**
   * A user's public key, answered by the switch (`GET #pubkey @user` →
   * `DATA #name user #pubkey k`, signed by the switch).
   * @throws SenzClientError `bad-reply` for an unknown user or a bad key, `timeout`.
   */
  async publicKeyOf(user: string, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<SenzPublicKey> {
    const r = await this.request(
      `GET #pubkey @${user}`,
      (r) => r.switchSigned && (attributeValue(r.msg, 'name') === user) && (attribute(r.msg, 'pubkey') !== undefined || attributeValue(r.msg, 'msg') === SWITCH_REPLY.unknownReceiver),
      timeoutMs,
    );
    const k = attributeValue(r.msg, 'pubkey');
    if (!k) throw new SenzClientError('bad-reply', `${user} is not registered on the switch`);
    try {
      return parsePublicKeyBase64(k);
    } catch (err) {
      throw new SenzClientError('bad-reply', `the switch holds a bad key for ${user}: ${(err as Error).message}`);
    }
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((r) => this.socket.close(() => r()));
  }
}
