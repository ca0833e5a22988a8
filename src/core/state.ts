import { toHex } from './encoding.js';
import { MAX_MONEY } from './params.js';
import { reject, OK, type Verdict } from './reject.js';
import type { Transaction } from './transaction.js';

/** An account's state: balance in base units and the nonce its next transfer must carry. */
export interface Account {
  balance: bigint;
  nonce: number;
}

export const EMPTY_ACCOUNT: Readonly<Account> = Object.freeze({ balance: 0n, nonce: 0 });

/** Read access to account state, keyed by the hex of the ed25519 public key. */
export interface AccountReader {
  getAccount(key: string): Account | undefined;
}

/**
 * A copy-on-write overlay over an {@link AccountReader}: applies transactions
 * and records, per touched account, the value before the first change (the
 * undo data of a block) and the value after (what a connect writes).
 */
export class AccountOverlay implements AccountReader {
  /** New state of each touched account. */
  readonly changed = new Map<string, Account>();
  /** State before the first change (`undefined`: the account did not exist). */
  readonly previous = new Map<string, Account | undefined>();

  /** Accounts read from the base, so each is read there once (a store read decodes a record). */
  private readonly read = new Map<string, Account | undefined>();

  constructor(private readonly base: AccountReader) {}

  getAccount(key: string): Account | undefined {
    return this.changed.get(key) ?? this.baseAccount(key);
  }

  private baseAccount(key: string): Account | undefined {
    if (this.read.has(key)) return this.read.get(key);
    const account = this.base.getAccount(key);
    this.read.set(key, account);
    return account;
  }

  private set(key: string, value: Account): void {
    if (!this.previous.has(key)) this.previous.set(key, this.baseAccount(key));
    this.changed.set(key, value);
  }

  /**
   * Credits `amount` to the account of `recipient` (a maturing coinbase).
   * Nothing is changed when the verdict is a rejection (`balance-overflow`).
   */
  credit(recipient: Uint8Array, amount: bigint): Verdict {
    const key = toHex(recipient);
    const acc = this.getAccount(key) ?? EMPTY_ACCOUNT;
    if (acc.balance + amount > MAX_MONEY) return reject('balance-overflow', 'maturing coinbase would take the balance past MAX_MONEY');
    this.set(key, { balance: acc.balance + amount, nonce: acc.nonce });
    return OK;
  }

  /**
   * Applies one transaction: a transfer must carry the sender's next nonce and
   * the sender must hold amount + fee; the recipient is credited the amount
   * (the fee goes to the block's coinbase). A coinbase credits its recipient.
   * Nothing is changed when the verdict is a rejection.
   */
  apply(tx: Transaction): Verdict {
    if (tx.type === 'coinbase') {
      const key = toHex(tx.recipient);
      const acc = this.getAccount(key) ?? EMPTY_ACCOUNT;
      if (acc.balance + tx.amount > MAX_MONEY) return reject('balance-overflow', 'coinbase would take the balance past MAX_MONEY');
      this.set(key, { balance: acc.balance + tx.amount, nonce: acc.nonce });
      return OK;
    }
    const senderKey = toHex(tx.sender);
    const sender = this.getAccount(senderKey) ?? EMPTY_ACCOUNT;
    if (tx.nonce !== sender.nonce) {
      return reject('bad-nonce', `transfer nonce ${tx.nonce}, account expects ${sender.nonce}`);
    }
    const cost = tx.amount + tx.fee;
    if (sender.balance < cost) {
      return reject('insufficient-balance', `sender holds ${sender.balance}, transfer needs ${cost} base units`);
    }
    const recipientKey = toHex(tx.recipient);
    const recipient = recipientKey === senderKey ? { balance: sender.balance - cost, nonce: sender.nonce + 1 } : (this.getAccount(recipientKey) ?? EMPTY_ACCOUNT);
    if (recipient.balance + tx.amount > MAX_MONEY) {
      return reject('balance-overflow', 'transfer would take the recipient past MAX_MONEY');
    }
    this.set(senderKey, { balance: sender.balance - cost, nonce: sender.nonce + 1 });
    this.set(recipientKey, { balance: recipient.balance + tx.amount, nonce: recipient.nonce });
    return OK;
  }
}
