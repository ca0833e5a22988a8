/**
 * Reason codes of every validation failure. A code says what was wrong; the
 * punishment for the peer that sent it is decided once, by {@link isPolicyOnly}
 * and the connection's switch: a validation error is part of the protocol (the
 * peer is told why), never a crash.
 */
export const REJECT_CODES = [
  // decoding and structure (consensus)
  'malformed',
  'bad-version',
  'bad-bits',
  'high-hash',
  'bad-merkle-root',
  'bad-block-size',
  'bad-tx-count',
  'duplicate-tx',
  'bad-coinbase-missing',
  'bad-coinbase-position',
  'bad-coinbase-height',
  'bad-coinbase-amount',
  'bad-amount',
  'bad-signature',
  // context (consensus)
  'bad-prev',
  'bad-diffbits',
  'time-too-old',
  'time-too-new',
  'bad-nonce',
  'insufficient-balance',
  'balance-overflow',
  'checkpoint',
  'bad-timewarp',
  'duplicate-invalid',
  // policy and duplicates (never punished)
  'already-known',
  'fee-too-low',
  'mempool-full',
  'nonce-gap',
  'orphan-pool-full',
  'coinbase-not-relayed',
  'too-many-pending',
  'dust',
  'too-little-chainwork',
] as const;

export type RejectCode = (typeof REJECT_CODES)[number];

/** A failed check: its code and a human sentence. */
export interface Rejection {
  ok: false;
  code: RejectCode;
  reason: string;
}

export type Verdict = { ok: true } | Rejection;

export const OK: Verdict = Object.freeze({ ok: true as const });

export function reject(code: RejectCode, reason: string): Rejection {
  return { ok: false, code, reason };
}

/** What was refused: a transaction relayed on its own, or a block (and the transactions inside it). */
export type RejectedItem = 'transaction' | 'block';

/**
 * True when refusing `item` with `code` is a local policy decision or a
 * duplicate: such a rejection never punishes the peer that sent the item
 * (design: "a transaction refused only by local policy never punishes"). A
 * relayed transaction is judged against this node's view of the chain,
 * which the sender may not share yet, so the state-dependent codes
 * (`bad-nonce`, `insufficient-balance`, `balance-overflow`) are policy for
 * transactions; inside a block they are consensus failures of the block's
 * author and punished (Bitcoin Core punishes `BLOCK_CONSENSUS`, never
 * `TX_MISSING_INPUTS` of a relayed transaction). `time-too-new` depends on
 * the receiver's clock and `too-little-chainwork` on its tip, so they never
 * punish. `duplicate-invalid` is a block already proven invalid, sent again:
 * punished (Core's `BLOCK_CACHED_INVALID`). Exhaustive, so a new code must
 * be classified here.
 */
export function isPolicyOnly(code: RejectCode, item: RejectedItem): boolean {
  switch (code) {
    case 'already-known':
    case 'fee-too-low':
    case 'mempool-full':
    case 'nonce-gap':
    case 'orphan-pool-full':
    case 'time-too-new':
    case 'coinbase-not-relayed':
    case 'too-many-pending':
    case 'dust':
    case 'too-little-chainwork':
      return true;
    case 'insufficient-balance':
    case 'bad-nonce':
    case 'balance-overflow':
      return item === 'transaction';
    case 'malformed':
    case 'bad-version':
    case 'bad-bits':
    case 'high-hash':
    case 'bad-merkle-root':
    case 'bad-block-size':
    case 'bad-tx-count':
    case 'duplicate-tx':
    case 'bad-coinbase-missing':
    case 'bad-coinbase-position':
    case 'bad-coinbase-height':
    case 'bad-coinbase-amount':
    case 'bad-amount':
    case 'bad-signature':
    case 'bad-prev':
    case 'bad-diffbits':
    case 'time-too-old':
    case 'checkpoint':
    case 'bad-timewarp':
    case 'duplicate-invalid':
      return false;
    default:
      return assertNever(code);
  }
}

/** Exhaustiveness guard for switches over unions. */
export function assertNever(x: never): never {
  throw new Error(`unexpected value ${JSON.stringify(x)}`);
}
