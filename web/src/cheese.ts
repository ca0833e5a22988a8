import type { BlockView } from '../../src/node/node-api.js';

/**
 * A block as document 001 calls it: a "cheese" of the cheese stack,
 * `{sequence_number, parent_smell, transactions: [{sender, recipient, amount}], nonce, timestamp}`.
 * The height is the sequence number and the parent's hash its smell; the
 * coinbase is shown as a transfer from `"MINING"` (document 001 lists only
 * `sender`, `recipient`, `amount`, so fees and nonces are left out).
 */
export interface Cheese {
  sequence_number: number;
  parent_smell: string;
  transactions: Array<{ sender: string; recipient: string; amount: string }>;
  nonce: number;
  timestamp: number;
}

export function toCheese(view: BlockView): Cheese {
  const b = view.block;
  return {
    sequence_number: view.height,
    parent_smell: b.header.prevHash,
    transactions: b.transactions.map((tx) =>
      tx.type === 'coinbase' ? { sender: 'MINING', recipient: tx.recipient, amount: tx.amount } : { sender: tx.sender, recipient: tx.recipient, amount: tx.amount },
    ),
    nonce: b.header.nonce,
    timestamp: b.header.time,
  };
}
