/**
 * Reason codes of every validation failure. A code says what was wrong; the
 * punishment for the peer that sent it is decided once, by {@link isPolicyOnly}
 * and the connection actor's switch (style: "a validation error is part of
 * the protocol").
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
  // policy and duplicates (never punished)
  'already-known',
  'fee-too-low',
  'mempool-full',
  'nonce-gap',
  'orphan-pool-full',
  'coinbase-not-relayed',
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

/**
 * True when the code is a local policy decision or a duplicate: such a
 * rejection never punishes the peer that sent the item (design: "a
 * transaction refused only by local policy never punishes"). Exhaustive, so a
 * new code must be classified here.
 */
export function isPolicyOnly(code: RejectCode): boolean {
  switch (code) {
    case 'already-known':
    case 'fee-too-low':
    case 'mempool-full':
    case 'nonce-gap':
    case 'orphan-pool-full':
    case 'insufficient-balance':
    case 'bad-nonce':
    case 'time-too-new':
    case 'coinbase-not-relayed':
      // insufficient-balance / bad-nonce / time-too-new depend on the receiver's view of the chain and clock
      return true;
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
    case 'balance-overflow':
    case 'checkpoint':
      return false;
    default:
      return assertNever(code);
  }
}

/** Exhaustiveness guard for switches over unions. */
export function assertNever(x: never): never {
  throw new Error(`unexpected value ${JSON.stringify(x)}`);
}
