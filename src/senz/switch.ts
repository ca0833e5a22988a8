import { systemClock, type Clock } from '../core/clock.js';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { attribute, attributeValue, parseSenz, SenzParseError, sharedAttributeNames, TIME_ATTRIBUTE, type SenzMessage } from './grammar.js';
import { checkTime, RateLimiter, ReplayCache } from './guards.js';
import { generateSenzKey, keyPairFromPem, parsePublicKeyBase64, privateKeyPem, publicKeyBase64, sealSenz, SenzKeyError, verifyText, type SenzKeyPair, type SenzKeyType, type SenzPublicKey } from './keys.js';
import {
  DEFAULT_MAX_DATAGRAM_BYTES,
  DEFAULT_MAX_USERS_PER_ADDRESS,
  DEFAULT_PING_INTERVAL_MS,
  DEFAULT_RATE_BURST,
  DEFAULT_RATE_PER_SECOND,
  DEFAULT_REPLAY_CACHE_SIZE,
  DEFAULT_REQUIRE_TIME,
  DEFAULT_SWITCH_HOST,
  DEFAULT_SWITCH_KEY_TYPE,
  DEFAULT_SWITCH_NAME,
  DEFAULT_SWITCH_PORT,
  DEFAULT_TIME_WINDOW_MS,
} from '../config/schema.js';
import { PING, SWITCH_REPLY } from './replies.js';
import { SwitchUserStore, type SwitchUser } from './user-store.js';

export {
  DEFAULT_SWITCH_HOST,
  DEFAULT_SWITCH_PORT,
  DEFAULT_SWITCH_NAME,
  DEFAULT_SWITCH_KEY_TYPE,
  DEFAULT_MAX_DATAGRAM_BYTES,
  DEFAULT_RATE_PER_SECOND,
  DEFAULT_RATE_BURST,
  DEFAULT_TIME_WINDOW_MS,
  DEFAULT_REQUIRE_TIME,
  DEFAULT_REPLAY_CACHE_SIZE,
  DEFAULT_MAX_USERS_PER_ADDRESS,
  DEFAULT_PING_INTERVAL_MS,
};
/** A user silent for this long is no longer pinged, ms (document 000: one day). */
export const PING_IDLE_LIMIT_MS = 24 * 3600_000;
/** Most source addresses the rate limiter tracks. */
export const RATE_LIMIT_ADDRESSES = 65_536;
/** Most datagrams waiting to be handled; more are dropped (counted). */
export const MAX_PENDING_DATAGRAMS = 1024;
/** File names in the switch's data folder. */
export const SWITCH_FILES = { key: 'switch.key', users: 'users' } as const;

/** Options of {@link SenzSwitch}. */
export interface SwitchOptions {
  host?: string;
  port?: number;
  name?: string;
  /** Folder of the switch's key (`switch.key`, mode 0600) and its LMDB user store (`users/`). */
  dataDir: string;
  keyType?: SenzKeyType;
  maxDatagramBytes?: number;
  ratePerSecond?: number;
  rateBurst?: number;
  timeWindowMs?: number;
  requireTime?: boolean;
  replayCacheSize?: number;
  maxUsersPerAddress?: number;
  pingIntervalMs?: number;
  logger?: Logger;
  /** The clock (unix ms). @default systemClock */
  clock?: Clock;
}

/** Counters of a running switch (each datagram lands in exactly one of the outcome counters). */
export interface SwitchStats {
  received: number;
  /** Messages handled after verification (registrations included). */
  accepted: number;
  /** Copies sent to receivers. */
  forwarded: number;
  replies: number;
  pings: number;
  oversize: number;
  rateLimited: number;
  overloaded: number;
  malformed: number;
  badTime: number;
  replayed: number;
  badSignature: number;
  users: number;
}

/** What became of one datagram: the counter of {@link SwitchStats} it was added to. */
export type SwitchOutcome = 'accepted' | 'oversize' | 'rateLimited' | 'overloaded' | 'malformed' | 'badTime' | 'replayed' | 'badSignature';

/**
 * The Senz switch of document 000: users register a public key under a name
 * and every message goes through the switch, which verifies the sender's
 * signature and forwards the message by name under the sharing rules
 * (docs/senz.md). Users and sharing rules live in LMDB under the data folder.
 */
export class SenzSwitch extends EventEmitter<{ outcome: [SwitchOutcome]; registered: [name: string] }> {
  readonly name: string;
  private readonly o: Required<Omit<SwitchOptions, 'logger' | 'host' | 'port' | 'name' | 'clock'>> & { host: string; port: number };
  private readonly log: Logger | undefined;
  private readonly now: () => number;
  private readonly limiter: RateLimiter;
  private readonly replays: ReplayCache;
  private readonly keys = new Map<string, SenzPublicKey>();
  private readonly lastSeen = new Map<string, number>();
  private readonly perAddress = new Map<string, number>();
  private store: SwitchUserStore | undefined;
  private socket: Socket | undefined;
  private key!: SenzKeyPair;
  private pingTimer: NodeJS.Timeout | undefined;
  private queue: Promise<void> = Promise.resolve();
  private pending = 0;
  private boundPort = 0;
  readonly stats: SwitchStats = {
    received: 0,
    accepted: 0,
    forwarded: 0,
    replies: 0,
    pings: 0,
    oversize: 0,
    rateLimited: 0,
    overloaded: 0,
    malformed: 0,
    badTime: 0,
    replayed: 0,
    badSignature: 0,
    users: 0,
  };

  constructor(options: SwitchOptions) {
    super();
    this.name = options.name ?? DEFAULT_SWITCH_NAME;
    this.log = options.logger;
    const clock = options.clock ?? systemClock;
    this.now = () => clock.nowMs();
    this.o = {
      host: options.host ?? DEFAULT_SWITCH_HOST,
      port: options.port ?? DEFAULT_SWITCH_PORT,
      dataDir: options.dataDir,
      keyType: options.keyType ?? DEFAULT_SWITCH_KEY_TYPE,
      maxDatagramBytes: options.maxDatagramBytes ?? DEFAULT_MAX_DATAGRAM_BYTES,
      ratePerSecond: options.ratePerSecond ?? DEFAULT_RATE_PER_SECOND,
      rateBurst: options.rateBurst ?? DEFAULT_RATE_BURST,
      timeWindowMs: options.timeWindowMs ?? DEFAULT_TIME_WINDOW_MS,
      requireTime: options.requireTime ?? DEFAULT_REQUIRE_TIME,
      replayCacheSize: options.replayCacheSize ?? DEFAULT_REPLAY_CACHE_SIZE,
      maxUsersPerAddress: options.maxUsersPerAddress ?? DEFAULT_MAX_USERS_PER_ADDRESS,
      pingIntervalMs: options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS,
    };
    this.limiter = new RateLimiter({ perSecond: this.o.ratePerSecond, burst: this.o.rateBurst, maxAddresses: RATE_LIMIT_ADDRESSES });
    // Twice the window: a message leaves the cache only after its #time is out of the window on either side.
    this.replays = new ReplayCache(2 * this.o.timeWindowMs, this.o.replayCacheSize);
  }

  /** The switch's public key (`#pubkey` value of its REGISTRATION_DONE). */
  get publicKey(): SenzPublicKey {
    return this.key.publicKey;
  }

  /** UDP port the switch listens on (resolved when 0 was asked). */
  get port(): number {
    return this.boundPort;
  }

  /**
   * Loads or creates the switch key, opens the user store and binds the UDP socket.
   * @throws the socket's error (port in use …) or SenzKeyError for a bad key file.
   */
  async start(): Promise<void> {
    mkdirSync(this.o.dataDir, { recursive: true });
    this.key = loadOrCreateSwitchKey(join(this.o.dataDir, SWITCH_FILES.key), this.o.keyType);
    this.store = SwitchUserStore.open(join(this.o.dataDir, SWITCH_FILES.users));
    for (const u of this.store.users()) {
      this.lastSeen.set(u.name, u.lastSeen);
      this.perAddress.set(u.registeredFrom, (this.perAddress.get(u.registeredFrom) ?? 0) + 1);
      this.stats.users++;
    }
    const socket = createSocket('udp4');
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.o.port, this.o.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', (err) => this.log?.warn({ err }, 'switch socket error'));
    socket.on('message', (data, rinfo) => this.receive(data, rinfo));
    this.boundPort = socket.address().port;
    this.pingTimer = setInterval(() => this.pingAll(), this.o.pingIntervalMs);
    this.pingTimer.unref();
    this.log?.info({ host: this.o.host, port: this.boundPort, name: this.name, keyType: this.key.type, users: this.stats.users }, 'senz switch listening');
  }

  /** Stops the PING loop, closes the socket, finishes pending writes and closes the store. Idempotent. */
  async stop(): Promise<void> {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = undefined;
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((r) => socket.close(() => r()));
    await this.queue;
    const store = this.store;
    this.store = undefined;
    await store?.close();
  }

  /** Resolves when every datagram received so far has been handled. */
  idle(): Promise<void> {
    return this.queue;
  }

  /**
   * Takes one datagram: size and rate checks at once, the rest in arrival
   * order (registrations and sharing rules are read-then-write).
   */
  receive(data: Buffer, from: Pick<RemoteInfo, 'address' | 'port'>): void {
    this.stats.received++;
    if (data.length > this.o.maxDatagramBytes) {
      this.count('oversize');
      return;
    }
    if (!this.limiter.take(from.address, this.now())) {
      this.count('rateLimited');
      return;
    }
    if (this.pending >= MAX_PENDING_DATAGRAMS) {
      this.count('overloaded');
      return;
    }
    this.pending++;
    const text = data.toString('latin1');
    this.queue = this.queue
      .then(() => this.handle(text, from.address, from.port))
      .catch((err: unknown) => this.log?.error({ err }, 'senz switch failed to handle a datagram'))
      .finally(() => this.pending--);
  }

  private async handle(text: string, host: string, port: number): Promise<void> {
    const store = this.store;
    if (!store) return;
    let msg: SenzMessage;
    try {
      msg = parseSenz(text);
    } catch (err) {
      if (!(err instanceof SenzParseError)) throw err;
      this.count('malformed');
      this.reply(host, port, `DATA #msg ${SWITCH_REPLY.malformed} #reason ${err.reason}`);
      return;
    }
    const now = this.now();
    const time = checkTime(attributeValue(msg, TIME_ATTRIBUTE), attribute(msg, TIME_ATTRIBUTE) !== undefined, now, this.o.timeWindowMs, this.o.requireTime);
    if (!time.ok) {
      this.count('badTime');
      this.reply(host, port, `DATA #msg ${SWITCH_REPLY.badTime} #reason ${time.reason}`);
      return;
    }
    const replay = this.replays.check(msg.signature, now);
    if (replay === 'replayed') {
      // A captured message sent again: dropped without a word, so that a replay never makes the switch talk to a spoofed address.
      this.count('replayed');
      this.log?.debug({ sender: msg.sender, host }, 'replayed senz dropped');
      return;
    }
    if (replay === 'full') {
      this.count('overloaded');
      this.reply(host, port, `DATA #msg ${SWITCH_REPLY.busy}`);
      return;
    }

    const toSwitch = msg.receivers.includes(this.name);
    if (msg.command === 'SHARE' && toSwitch && attribute(msg, 'pubkey')) {
      await this.register(store, msg, host, port, now);
      return;
    }
    const user = store.getUser(msg.sender);
    if (!user && msg.command === 'UNSHARE' && toSwitch && attribute(msg, 'pubkey')) {
      this.reply(host, port, `DATA #msg ${SWITCH_REPLY.userCannotRemoved}`);
      return;
    }
    const key = user && this.userKey(user);
    if (!user || !key || !verifyText(key, msg.signedText, msg.signature)) {
      this.count('badSignature');
      this.reply(host, port, `DATA #msg ${SWITCH_REPLY.signatureVerificationFailed}`);
      return;
    }
    this.replays.remember(msg.signature, now);
    this.count('accepted');
    this.lastSeen.set(user.name, now);
    if (user.host !== host || user.port !== port) await store.putUser({ ...user, host, port, lastSeen: now });

    if (msg.command === 'UNSHARE' && toSwitch && attribute(msg, 'pubkey')) {
      await store.removeUser(user.name);
      this.keys.delete(user.name);
      this.lastSeen.delete(user.name);
      this.perAddress.set(user.registeredFrom, Math.max(0, (this.perAddress.get(user.registeredFrom) ?? 1) - 1));
      this.stats.users--;
      this.reply(host, port, `DATA #msg ${SWITCH_REPLY.userRemoved}`);
      this.log?.info({ user: user.name }, 'senz user removed');
      return;
    }
    await this.route(store, msg, text, host, port);
  }

  /** `SHARE #pubkey <key> @<switch> ^name sig`: the message is signed with the key it carries. */
  private async register(store: SwitchUserStore, msg: SenzMessage, host: string, port: number, now: number): Promise<void> {
    const value = attributeValue(msg, 'pubkey');
    let key: SenzPublicKey | undefined;
    try {
      key = value === undefined ? undefined : parsePublicKeyBase64(value);
    } catch (err) {
      if (!(err instanceof SenzKeyError)) throw err;
    }
    if (!key || !verifyText(key, msg.signedText, msg.signature)) {
      // The original answers a registration it cannot verify with REGISTRATION_FAIL.
      this.count('badSignature');
      this.reply(host, port, `DATA #msg ${SWITCH_REPLY.registrationFail} #reason ${key ? 'signature' : 'bad-key'}`);
      return;
    }
    this.replays.remember(msg.signature, now);
    this.count('accepted');
    const existing = store.getUser(msg.sender);
    if (existing) {
      if (existing.pubkey !== value) {
        this.reply(host, port, `DATA #msg ${SWITCH_REPLY.registrationFail} #reason name-taken`);
        return;
      }
      this.lastSeen.set(existing.name, now);
      await store.putUser({ ...existing, host, port, lastSeen: now });
      this.emit('registered', existing.name);
      this.reply(host, port, `DATA #msg ${SWITCH_REPLY.alreadyRegistered} #pubkey ${publicKeyBase64(this.key.publicKey)}`);
      return;
    }
    if (msg.sender === this.name) {
      this.reply(host, port, `DATA #msg ${SWITCH_REPLY.registrationFail} #reason name-taken`);
      return;
    }
    if ((this.perAddress.get(host) ?? 0) >= this.o.maxUsersPerAddress) {
      this.reply(host, port, `DATA #msg ${SWITCH_REPLY.registrationFail} #reason too-many-users`);
      return;
    }
    const user: SwitchUser = { name: msg.sender, pubkey: value!, host, port, registeredFrom: host, registeredAt: now, lastSeen: now };
    await store.putUser(user);
    this.keys.set(user.name, key);
    this.lastSeen.set(user.name, now);
    this.perAddress.set(host, (this.perAddress.get(host) ?? 0) + 1);
    this.stats.users++;
    this.log?.info({ user: user.name, keyType: key.type, host, port }, 'senz user registered');
    this.emit('registered', user.name);
    this.reply(host, port, `DATA #msg ${SWITCH_REPLY.registrationDone} #pubkey ${publicKeyBase64(this.key.publicKey)}`);
  }

  private userKey(user: SwitchUser): SenzPublicKey | undefined {
    let key = this.keys.get(user.name);
    if (!key) {
      try {
        key = parsePublicKeyBase64(user.pubkey);
      } catch {
        return undefined;
      }
      this.keys.set(user.name, key);
    }
    return key;
  }

  /** Document 000's forwarding rules, one receiver at a time. */
  private async route(store: SwitchUserStore, msg: SenzMessage, text: string, host: string, port: number): Promise<void> {
    const attrs = sharedAttributeNames(msg);
    for (const name of msg.receivers) {
      if (name === this.name) continue;
      const receiver = store.getUser(name);
      if (msg.command === 'GET' && attrs.includes('pubkey')) {
        // The switch holds every user's key, so it answers for the receiver.
        if (!receiver) this.reply(host, port, `DATA #msg ${SWITCH_REPLY.unknownReceiver} #name ${name}`);
        else this.reply(host, port, `DATA #name ${name} #pubkey ${receiver.pubkey}`);
        continue;
      }
      if (!receiver) {
        this.reply(host, port, `DATA #msg ${SWITCH_REPLY.unknownReceiver} #name ${name}`);
        continue;
      }
      let allowed: boolean;
      switch (msg.command) {
        case 'SHARE':
          await store.share(msg.sender, name, attrs);
          allowed = true;
          break;
        case 'UNSHARE':
          await store.unshare(msg.sender, name, attrs);
          allowed = true;
          break;
        case 'PUT':
        case 'GET':
          // The receiver must have shared these attributes with the sender.
          allowed = store.shares(name, msg.sender, attrs);
          break;
        case 'DATA':
          // The sender sends values of what it shared with the receiver; a #msg always passes.
          allowed = attrs.includes('msg') || store.shares(msg.sender, name, attrs);
          break;
        case 'DELETE':
          allowed = true;
          break;
      }
      if (!allowed) {
        this.reply(host, port, `DATA #msg ${SWITCH_REPLY.notShared} #name ${name}`);
        continue;
      }
      this.send(text, receiver.host, receiver.port);
      this.stats.forwarded++;
    }
  }

  /** Sends a reply signed by the switch: `text #time <unix s> ^<switch> <sig>`. */
  private reply(host: string, port: number, text: string): void {
    const time = (this.now() / 1000).toFixed(3);
    this.send(sealSenz(`${text} #time ${time}`, this.name, this.key.privateKey), host, port);
    this.stats.replies++;
  }

  private send(text: string, host: string, port: number): void {
    this.socket?.send(Buffer.from(text, 'latin1'), port, host, (err) => {
      if (err) this.log?.debug({ err, host, port }, 'senz send failed');
    });
  }

  private count(outcome: SwitchOutcome): void {
    this.stats[outcome]++;
    this.emit('outcome', outcome);
  }

  /** Document 000's keep-alive: `PING` to every user heard from within {@link PING_IDLE_LIMIT_MS}. */
  pingAll(): void {
    const store = this.store;
    if (!store) return;
    const now = this.now();
    for (const u of store.users()) {
      const seen = this.lastSeen.get(u.name) ?? u.lastSeen;
      if (now - seen > PING_IDLE_LIMIT_MS) continue;
      this.send(PING, u.host, u.port);
      this.stats.pings++;
    }
  }
}

/**
 * The switch's key: PKCS#8 PEM in `path` (mode 0600), created on first start.
 * @throws SenzKeyError for a file that is not a key.
 */
export function loadOrCreateSwitchKey(path: string, type: SenzKeyType): SenzKeyPair {
  if (existsSync(path)) return keyPairFromPem(readFileSync(path, 'utf8'));
  const pair = generateSenzKey(type);
  writeFileSync(path, privateKeyPem(pair), { mode: 0o600, flag: 'wx' });
  return pair;
}
