import { open, type RootDatabase } from 'lmdb';
import type { TransactionJson } from '../core/transaction.js';

/*
 * The coins a coin service issued, in LMDB (the original miner kept them in
 * MongoDB). Key layout, one database:
 *
 *   ['coin', coinId]              → CoinRecord
 *   ['tx', txid]                  → coinId       (to mark a coin confirmed from a block)
 *   ['user', name, createdAt, id] → null         (a requester's coins, oldest first)
 *   ['ct', txid]                  → unix ms      (transfers submitted for users)
 *
 * A coin and its indexes are written in one transaction, before the payment
 * is submitted: a restarted service finds every payment it may have made.
 */

/** Where a coin's payment stands. */
export type CoinStatus = 'submitted' | 'confirmed';

/** One issued coin. */
export interface CoinRecord {
  /** First 20 hex characters of SHA-1(S_PARA + date + requester) (document 000's miner). */
  coin: string;
  serviceId: string;
  serviceParam: string;
  /** The request's date, `%Y-%m-%d%H:%M:%S` in UTC. */
  date: string;
  /** Senz name of the requester. */
  requester: string;
  /** Chain address paid, hex ed25519 public key. */
  recipient: string;
  /** Coin value paid, base units (decimal string). */
  amount: string;
  /** The signed payment, kept so that a restart can submit exactly the same bytes again. */
  tx: TransactionJson;
  txid: string;
  status: CoinStatus;
  /** Height and hash of the block holding the payment, once confirmed. */
  height?: number;
  blockHash?: string;
  /** Unix ms. */
  createdAt: number;
}

/** LMDB store of issued coins. */
export class CoinStore {
  private constructor(private readonly db: RootDatabase) {}

  /** Opens (or creates) the store in folder `path`; `readOnly` lets another process read a running service's coins (LMDB allows it). */
  static open(path: string, readOnly = false): CoinStore {
    return new CoinStore(open({ path, compression: false, readOnly }));
  }

  /** Coins issued, and how many of them are confirmed. */
  counts(): { coins: number; confirmed: number } {
    let coins = 0;
    let confirmed = 0;
    for (const c of this.all()) {
      coins++;
      if (c.status === 'confirmed') confirmed++;
    }
    return { coins, confirmed };
  }

  get(coin: string): CoinRecord | undefined {
    return this.db.get(['coin', coin]) as CoinRecord | undefined;
  }

  byTxid(txid: string): CoinRecord | undefined {
    const coin = this.db.get(['tx', txid]) as string | undefined;
    return coin === undefined ? undefined : this.get(coin);
  }

  /** Adds a coin with its indexes, in one transaction. */
  async add(record: CoinRecord): Promise<void> {
    await this.db.transaction(() => {
      void this.db.put(['coin', record.coin], record);
      void this.db.put(['tx', record.txid], record.coin);
      void this.db.put(['user', record.requester, record.createdAt, record.coin], null);
    });
  }

  /** Removes a coin whose payment the node refused, so that the request may be made again. */
  async remove(record: CoinRecord): Promise<void> {
    await this.db.transaction(() => {
      void this.db.remove(['coin', record.coin]);
      void this.db.remove(['tx', record.txid]);
      void this.db.remove(['user', record.requester, record.createdAt, record.coin]);
    });
  }

  async update(record: CoinRecord): Promise<void> {
    await this.db.put(['coin', record.coin], record);
  }

  /** Every coin, in coin id order. */
  *all(): Iterable<CoinRecord> {
    for (const { value } of this.db.getRange({ start: ['coin'], end: ['coin', '\uffff'] })) yield value as CoinRecord;
  }

  /** The last `limit` coins of a requester, newest first, and how many it has. */
  ofUser(name: string, limit: number): { coins: CoinRecord[]; count: number } {
    const ids: string[] = [];
    for (const { key } of this.db.getRange({ start: ['user', name], end: ['user', name, Number.MAX_SAFE_INTEGER] })) ids.push((key as [string, string, number, string])[3]);
    const coins = ids
      .slice(-limit)
      .reverse()
      .map((id) => this.get(id))
      .filter((c): c is CoinRecord => c !== undefined);
    return { coins, count: ids.length };
  }

  /** Whether a user transfer with this txid was submitted already. */
  transferSubmitted(txid: string): boolean {
    return this.db.get(['ct', txid]) !== undefined;
  }

  async recordTransfer(txid: string, at: number): Promise<void> {
    await this.db.put(['ct', txid], at);
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
