import { systemClock, type Clock } from '../core/clock.js';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { EventBus } from '../actors/events.js';
import type { Actor, ActorContext, Reply } from '../actors/runtime/actor.js';
import type { ChildSpec } from '../actors/runtime/supervisor.js';
import type { Block } from '../core/block.js';
import { formatCoins } from '../core/coins.js';
import { DecodeError, fromHex } from '../core/encoding.js';
import { hashFromHex } from '../core/hash.js';
import { decodeTx, signTransfer, txid as computeTxid, txToJson } from '../core/transaction.js';
import { parseHostPort, type NodeConfig } from '../config/schema.js';
import type { NodeApi } from '../node/node-api.js';
import type { NodeService } from '../node/node.js';
import { loadOrCreateMinerKey } from '../node/data-dir.js';
import { SenzClient, type ReceivedSenz } from './client.js';
import { CoinStore, type CoinRecord } from './coin-store.js';
import { attribute, attributeValue, formatSenz, type SenzMessage } from './grammar.js';
import { keyPairFromEd25519Seed, verifyText, type SenzPublicKey } from './keys.js';

/*
 * The coin services of document 000 on cheesechain's chain. The original
 * "miner" made one coin per service request (an id, no proof of work) and a
 * "base" node priced coins; here a peer registered on the switch under the
 * service's name answers both, and pays each coin's value as a real transfer
 * signed with the peer's mining key, funded by its block rewards.
 *
 *   SHARE #f cc #TIME <unix> #COIN [#TXID] [#AMOUNT] #S_ID <sid> #S_PARA <p> [#ADDR <hex>]
 *       → PUT #COIN <id> #TIME <date> [#TXID <txid>] [#AMOUNT <coins>]
 *       | DATA #msg CoinRefused #reason <code> [#BALANCE <coins>]
 *   SHARE #COIN_VALUE #f cv          → PUT #COIN_VALUE <coins>
 *   DATA #f ct #TX <hex>             → DATA #msg TransferSubmitted #TXID <txid> | DATA #msg TransferRefused #reason <code>
 *   SHARE #f bal [#ADDR <hex>]       → DATA #msg Balance #ADDR <hex> #BALANCE <coins> #NONCE <n> #NET <network id>
 *   SHARE #f hist                    → DATA #msg Coin … (the last few coins), then DATA #msg HistoryEnd #COUNT <n>
 *
 * Every request is verified here again with the requester's key, fetched from
 * the switch (GET #pubkey), so a datagram that only claims to come through
 * the switch never moves coins.
 */

/** Folder of the coin records inside the peer's data folder. */
export const COIN_STORE_DIR = 'senz-coins';
/** Pause between registrations with the switch once registered (they refresh the switch's record of our address), ms. */
export const REGISTER_INTERVAL_MS = 30_000;
/** Pause between attempts while not registered (switch not up yet, or no answer), ms. */
export const REGISTER_RETRY_MS = 2_000;
/** Coins listed by a `hist` request, newest first. */
export const HISTORY_LIMIT = 10;
/** Mailbox of the coin service, messages. */
export const COIN_SERVICE_MAILBOX = 1_000;
/** The service's flags (document 000's `#f`). */
export const COIN_FLAGS = { issue: 'cc', value: 'cv', transfer: 'ct', balance: 'bal', history: 'hist' } as const;

/** Why a coin or a transfer was refused (`#reason` of CoinRefused / TransferRefused). */
export type CoinRefusal =
  | 'unknown-service'
  | 'missing-S_PARA'
  | 'bad-TIME'
  | 'no-address'
  | 'insufficient-funds'
  | 'bad-tx'
  | 'not-ready'
  | string; // the node's reject codes (docs/api.md), passed on as they are

/** The coin service's config: the peer config's `senz` section. */
export type SenzServiceConfig = NonNullable<NodeConfig['senz']>;

export type CoinServiceMsg =
  | { type: 'coins/senz'; received: ReceivedSenz }
  | { type: 'coins/block-connected'; block: Block; height: number; hash: string }
  | { type: 'coins/block-disconnected'; block: Block }
  | { type: 'coins/register-tick' }
  | { type: 'coins/stats'; reply: Reply<CoinServiceStats> };

/** Counters of a coin service. */
export interface CoinServiceStats {
  registered: boolean;
  coinsIssued: number;
  coinsConfirmed: number;
  transfersSubmitted: number;
  refused: number;
  /** Requests whose signature did not verify with the requester's key from the switch. */
  unverified: number;
  /** Requests dropped because the mailbox was full. */
  dropped: number;
}

/** What a coin service needs from its peer. */
export interface CoinServiceDeps {
  config: SenzServiceConfig;
  api: NodeApi;
  bus: EventBus;
  /** The peer's mining key: tweetnacl's 64-byte secret key (seed ‖ public key). */
  minerSecretKey: Uint8Array;
  dataDir: string;
  logger?: Logger;
  /** The clock (unix ms). @default systemClock */
  clock?: Clock;
}

/** The original miner's coin id: the first 20 hex characters of SHA-1 over S_PARA ‖ date ‖ sender. */
export function coinId(serviceParam: string, date: string, sender: string): string {
  return createHash('sha1').update(serviceParam + date + sender, 'utf8').digest('hex').slice(0, 20);
}

/** A unix time as the original's `strftime("%Y-%m-%d %H:%M:%S")` with the space removed, in UTC. */
export function coinDate(unixSeconds: number): string {
  return new Date(Math.floor(unixSeconds) * 1000).toISOString().slice(0, 19).replace('T', '');
}

/**
 * The base node's coin value: the average value of the issued coins,
 * weighted by how many were issued per service, base units (floored).
 */
export function coinValue(records: Iterable<Pick<CoinRecord, 'amount'>>): bigint {
  let sum = 0n;
  let n = 0n;
  for (const r of records) {
    sum += BigInt(r.amount);
    n++;
  }
  return n === 0n ? 0n : sum / n;
}

const HEX_KEY = /^[0-9a-fA-F]{64}$/;
const UNIX_SECONDS = /^[0-9]{1,12}(\.[0-9]{1,9})?$/;

/** The coin service of one peer, as an actor: requests are handled one at a time, so payments never race for a nonce. */
export class CoinServiceActor implements Actor<CoinServiceMsg> {
  private store!: CoinStore;
  private client!: SenzClient;
  private networkId!: Uint8Array;
  /** The network id in display hex, as `GET /info` and the wallet write it. */
  private networkIdHex!: string;
  private readonly minerAddress: string;
  private readonly keys = new Map<string, SenzPublicKey>();
  private readonly unsubscribe: Array<() => void> = [];
  private lastRegistered = -Infinity;
  private registering = false;
  private readonly now: () => number;
  private readonly stats: CoinServiceStats = { registered: false, coinsIssued: 0, coinsConfirmed: 0, transfersSubmitted: 0, refused: 0, unverified: 0, dropped: 0 };

  constructor(private readonly d: CoinServiceDeps) {
    const clock = d.clock ?? systemClock;
    this.now = () => clock.nowMs();
    this.minerAddress = Buffer.from(d.minerSecretKey.subarray(32, 64)).toString('hex');
  }

  async start(ctx: ActorContext<CoinServiceMsg>): Promise<void> {
    this.store = CoinStore.open(join(this.d.dataDir, COIN_STORE_DIR));
    for (const c of this.store.all()) {
      this.stats.coinsIssued++;
      if (c.status === 'confirmed') this.stats.coinsConfirmed++;
    }
    this.networkIdHex = (await this.d.api.info()).networkId;
    this.networkId = hashFromHex(this.networkIdHex);
    const { host, port } = parseHostPort(this.d.config.switch);
    this.client = await SenzClient.open({
      name: this.d.config.name,
      key: keyPairFromEd25519Seed(this.d.minerSecretKey.subarray(0, 32)),
      switchHost: host,
      switchPort: port,
      switchName: this.d.config.switchName,
    });
    // A request that finds the mailbox full is dropped (the client asks again); a block is a fact the coin records must not miss.
    this.unsubscribe.push(this.client.onMessage((received) => ctx.self.offer({ type: 'coins/senz', received }) || this.stats.dropped++));
    this.unsubscribe.push(this.d.bus.on('block-connected', (e) => ctx.deliver({ type: 'coins/block-connected', block: e.block, height: e.entry.height, hash: e.entry.hash })));
    this.unsubscribe.push(this.d.bus.on('block-disconnected', (e) => ctx.deliver({ type: 'coins/block-disconnected', block: e.block })));
    ctx.every(REGISTER_RETRY_MS, { type: 'coins/register-tick' });
    ctx.self.tell({ type: 'coins/register-tick' });
    await this.resubmitPending();
  }

  async stop(): Promise<void> {
    for (const u of this.unsubscribe.splice(0)) u();
    await this.client?.close();
    await this.store?.close();
  }

  async receive(msg: CoinServiceMsg): Promise<void> {
    switch (msg.type) {
      case 'coins/register-tick':
        if (!this.stats.registered || this.now() - this.lastRegistered >= REGISTER_INTERVAL_MS) this.register();
        return;
      case 'coins/senz':
        await this.onSenz(msg.received);
        return;
      case 'coins/block-connected':
        await this.onBlock(msg.block, { height: msg.height, hash: msg.hash });
        return;
      case 'coins/block-disconnected':
        await this.onBlock(msg.block, undefined);
        return;
      case 'coins/stats':
        msg.reply.resolve({ ...this.stats });
        return;
    }
  }

  /**
   * Sends a registration and returns at once: the answer is awaited outside
   * the mailbox, so requests keep being served while the switch is slow or
   * down. One registration is in flight at a time.
   */
  private register(): void {
    if (this.registering) return;
    this.registering = true;
    this.client
      .register(REGISTER_RETRY_MS)
      .then(
        (r) => {
          if (!this.stats.registered) this.d.logger?.info({ name: this.d.config.name, switch: this.d.config.switch, reply: r }, 'coin service registered on the Senz switch');
          this.stats.registered = true;
          this.lastRegistered = this.now();
        },
        (err: Error) => this.d.logger?.warn({ err: err.message, switch: this.d.config.switch }, 'coin service could not register on the Senz switch; retrying'),
      )
      .finally(() => (this.registering = false));
  }

  /** Payments recorded before a restart that the node does not know: the same signed bytes again (never a second payment). */
  private async resubmitPending(): Promise<void> {
    for (const c of this.store.all()) {
      if (c.status !== 'submitted' || (await this.d.api.transaction(c.txid))) continue;
      const r = await this.d.api.submitTransaction(c.tx);
      this.d.logger?.info({ coin: c.coin, txid: c.txid, accepted: r.accepted, ...(r.accepted ? {} : { code: r.code }) }, 'resubmitted a coin payment');
    }
  }

  private async onBlock(block: Block, at: { height: number; hash: string } | undefined): Promise<void> {
    for (const tx of block.txs) {
      if (tx.type !== 'transfer') continue;
      const rec = this.store.byTxid(computeTxid(tx));
      if (!rec) continue;
      if (at) {
        if (rec.status !== 'confirmed') this.stats.coinsConfirmed++;
        await this.store.update({ ...rec, status: 'confirmed', height: at.height, blockHash: at.hash });
      } else if (rec.status === 'confirmed') {
        // A reorg took the block away; the node puts the transfer back in its mempool.
        this.stats.coinsConfirmed--;
        const { height: _h, blockHash: _b, ...rest } = rec;
        await this.store.update({ ...rest, status: 'submitted' });
      }
    }
  }

  /** The requester's key from the switch, cached; fetched again once when a cached key fails. */
  private async verified(m: SenzMessage): Promise<SenzPublicKey | undefined> {
    for (let attempt = 0; attempt < 2; attempt++) {
      let key = this.keys.get(m.sender);
      if (!key || attempt === 1) {
        try {
          key = await this.client.publicKeyOf(m.sender);
        } catch {
          return undefined;
        }
        this.keys.set(m.sender, key);
      }
      if (verifyText(key, m.signedText, m.signature)) return key;
    }
    return undefined;
  }

  private async onSenz(r: ReceivedSenz): Promise<void> {
    const m = r.msg;
    if (!r.fromSwitch || !m.receivers.includes(this.d.config.name) || m.sender === this.d.config.switchName) return;
    const flag = attributeValue(m, 'f');
    const known = (Object.values(COIN_FLAGS) as string[]).includes(flag ?? '');
    if (!known || (m.command === 'DATA') !== (flag === COIN_FLAGS.transfer) || (m.command !== 'SHARE' && m.command !== 'DATA')) return;
    const key = await this.verified(m);
    if (!key) {
      this.stats.unverified++;
      this.d.logger?.warn({ sender: m.sender }, 'senz request does not verify with the sender\'s key; ignored');
      return;
    }
    switch (flag) {
      case COIN_FLAGS.issue:
        await this.issue(m, key);
        return;
      case COIN_FLAGS.value:
        this.send('PUT', [['COIN_VALUE', formatCoins(coinValue(this.store.all()))]], m.sender);
        return;
      case COIN_FLAGS.balance:
        await this.balance(m, key);
        return;
      case COIN_FLAGS.history:
        this.history(m);
        return;
      case COIN_FLAGS.transfer:
        await this.transfer(m);
        return;
    }
  }

  private send(command: 'PUT' | 'DATA', attributes: Array<readonly [string, string | undefined]>, to: string): void {
    this.client.send(formatSenz({ command, attributes, receivers: [to] }));
  }

  private refuse(to: string, what: 'CoinRefused' | 'TransferRefused', reason: CoinRefusal, extra: Array<readonly [string, string]> = []): void {
    this.stats.refused++;
    this.send('DATA', [['msg', what], ['reason', reason], ...extra], to);
  }

  /** The chain address a request names: `#ADDR <hex>`, else the requester's ed25519 key. */
  private addressOf(m: SenzMessage, key: SenzPublicKey): string | undefined {
    const given = attributeValue(m, 'ADDR');
    if (given !== undefined) return HEX_KEY.test(given) ? given.toLowerCase() : undefined;
    return key.address;
  }

  private async issue(m: SenzMessage, key: SenzPublicKey): Promise<void> {
    const serviceId = attributeValue(m, 'S_ID') ?? '';
    const serviceParam = attributeValue(m, 'S_PARA');
    if (serviceParam === undefined) return this.refuse(m.sender, 'CoinRefused', 'missing-S_PARA');
    const when = attributeValue(m, 'TIME') ?? attributeValue(m, 'time');
    if (when === undefined || !UNIX_SECONDS.test(when)) return this.refuse(m.sender, 'CoinRefused', 'bad-TIME');
    const date = coinDate(Number(when));
    const id = coinId(serviceParam, date, m.sender);
    const existing = this.store.get(id);
    // One coin per request: the same request (or one with the same S_PARA, second and sender) gets the same coin, never a second payment.
    if (existing) return this.replyCoin(m, existing);

    const price = this.d.config.prices[serviceId];
    if (price === undefined) return this.refuse(m.sender, 'CoinRefused', 'unknown-service');
    const recipient = this.addressOf(m, key);
    if (!recipient) return this.refuse(m.sender, 'CoinRefused', 'no-address');
    const amount = BigInt(price);
    const fee = BigInt(this.d.config.fee);
    const account = await this.d.api.account(this.minerAddress);
    if (BigInt(account.balance) < amount + fee) return this.refuse(m.sender, 'CoinRefused', 'insufficient-funds', [['BALANCE', formatCoins(BigInt(account.balance))]]);
    const tx = signTransfer(this.networkId, { recipient: fromHex(recipient, 32, 'recipient'), amount, fee, nonce: account.pendingNonce }, this.d.minerSecretKey);
    const record: CoinRecord = {
      coin: id,
      serviceId,
      serviceParam,
      date,
      requester: m.sender,
      recipient,
      amount: amount.toString(),
      tx: txToJson(tx),
      txid: computeTxid(tx),
      status: 'submitted',
      createdAt: this.now(),
    };
    // Recorded before it is submitted: after a crash the record is there and the same bytes are submitted again.
    await this.store.add(record);
    const r = await this.d.api.submitTransaction(record.tx);
    if (!r.accepted) {
      await this.store.remove(record);
      return this.refuse(m.sender, 'CoinRefused', r.code);
    }
    this.stats.coinsIssued++;
    this.d.logger?.info({ coin: id, serviceId, requester: m.sender, recipient, amount: record.amount, txid: record.txid }, 'coin issued');
    this.replyCoin(m, record);
  }

  /** `PUT #COIN <id> #TIME <date>`, plus `#TXID` and `#AMOUNT` when the request shared them (the switch forwards a PUT only for shared attributes). */
  private replyCoin(m: SenzMessage, c: CoinRecord): void {
    const attrs: Array<readonly [string, string]> = [
      ['COIN', c.coin],
      ['TIME', c.date],
    ];
    if (attribute(m, 'TXID')) attrs.push(['TXID', c.txid]);
    if (attribute(m, 'AMOUNT')) attrs.push(['AMOUNT', formatCoins(BigInt(c.amount))]);
    this.send('PUT', attrs, m.sender);
  }

  private async balance(m: SenzMessage, key: SenzPublicKey): Promise<void> {
    const address = this.addressOf(m, key);
    if (!address) return this.refuse(m.sender, 'CoinRefused', 'no-address');
    const acc = await this.d.api.account(address);
    this.send(
      'DATA',
      [
        ['msg', 'Balance'],
        ['ADDR', address],
        ['BALANCE', formatCoins(BigInt(acc.balance))],
        ['NONCE', String(acc.pendingNonce)],
        ['NET', this.networkIdHex],
      ],
      m.sender,
    );
  }

  private history(m: SenzMessage): void {
    const { coins, count } = this.store.ofUser(m.sender, HISTORY_LIMIT);
    for (const c of coins) {
      this.send(
        'DATA',
        [
          ['msg', 'Coin'],
          ['COIN', c.coin],
          ['S_ID', c.serviceId],
          ['S_PARA', c.serviceParam],
          ['TIME', c.date],
          ['AMOUNT', formatCoins(BigInt(c.amount))],
          ['TXID', c.txid],
          ['STATUS', c.status],
        ],
        m.sender,
      );
    }
    this.send('DATA', [['msg', 'HistoryEnd'], ['COUNT', String(count)]], m.sender);
  }

  /** `ct`: a transfer the user signed on their side, submitted as it is. */
  private async transfer(m: SenzMessage): Promise<void> {
    const hex = attributeValue(m, 'TX');
    let tx;
    try {
      if (hex === undefined || !/^[0-9a-fA-F]+$/.test(hex) || hex.length % 2 !== 0) throw new DecodeError('#TX must be the hex of a signed transfer');
      tx = decodeTx(Buffer.from(hex, 'hex'));
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      return this.refuse(m.sender, 'TransferRefused', 'bad-tx');
    }
    if (tx.type !== 'transfer') return this.refuse(m.sender, 'TransferRefused', 'bad-tx');
    const id = computeTxid(tx);
    // The same transfer sent again is answered with its txid, never submitted twice.
    if (this.store.transferSubmitted(id)) return this.send('DATA', [['msg', 'TransferSubmitted'], ['TXID', id]], m.sender);
    const r = await this.d.api.submitTransaction(txToJson(tx));
    if (!r.accepted) return this.refuse(m.sender, 'TransferRefused', r.code);
    await this.store.recordTransfer(id, this.now());
    this.stats.transfersSubmitted++;
    this.d.logger?.info({ txid: id, requester: m.sender }, 'user transfer submitted');
    this.send('DATA', [['msg', 'TransferSubmitted'], ['TXID', r.txid]], m.sender);
  }
}

/** The child spec of a peer's coin service. */
export function coinServiceChildSpec(deps: CoinServiceDeps): ChildSpec<CoinServiceMsg> {
  return { id: 'senz-coin-service', mailbox: COIN_SERVICE_MAILBOX, start: () => new CoinServiceActor(deps) };
}

/**
 * The coin service as an optional part of a peer, handed to `startNode` by
 * the command line: its child spec when the config has a `senz` section.
 * @throws Error when `mining.address` is set: the service pays from the
 *   peer's own mining key, which must be the one its coinbases pay.
 */
export const coinService: NodeService = ({ config, api, bus, logger }) => {
  if (!config.senz) return undefined;
  if (config.mining.address) throw new Error('senz: the coin service pays coins from the peer\'s mining key, so mining.address must not be set');
  return coinServiceChildSpec({ config: config.senz, api, bus, minerSecretKey: loadOrCreateMinerKey(config.dataDir).secretKey, dataDir: config.dataDir, logger });
};
