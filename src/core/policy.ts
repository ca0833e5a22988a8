import { TRANSFER_BYTES } from './transaction.js';

/*
 * Relay policy: what a node accepts into its mempool and relays. Kept apart
 * from consensus (`params.ts`), as bcoin keeps `protocol/policy.js` apart
 * from `protocol/consensus.js`: a block may carry what policy refuses, and a
 * policy refusal never punishes a peer (`isPolicyOnly` in `reject.ts`).
 */

/** @default 50_000 — most transactions the mempool holds before it evicts by fee rate (policy). */
export const DEFAULT_MEMPOOL_MAX_TRANSACTIONS = 50_000;
/**
 * @default 25 — most pending transfers of one sender (policy). Each pending
 * transfer of a sender depends on all its earlier ones (nonce order), so
 * this is Bitcoin Core's ancestor limit (`DEFAULT_ANCESTOR_LIMIT` = 25)
 * for the account model; it bounds every per-sender walk.
 */
export const MAX_PENDING_PER_SENDER = 25;
/**
 * @default 153 — least fee of a relayed transfer, base units: 1 base unit per
 * byte of its {@link TRANSFER_BYTES} (Bitcoin Core's `DEFAULT_MIN_RELAY_TX_FEE`,
 * 1,000 satoshi per kvB = 1 per byte). Policy: a block may carry lower fees.
 */
export const DEFAULT_MIN_RELAY_FEE = BigInt(TRANSFER_BYTES);
/**
 * @default 459 — least amount of a relayed transfer, base units: three times
 * the least fee of spending it again (Bitcoin Core's dust rule,
 * `GetDustThreshold` at 3× the dust relay fee). Every new recipient is an
 * account every node stores forever; amounts below this cost the network
 * more than they move. Policy, never punished.
 */
export const DEFAULT_DUST_LIMIT = 3n * DEFAULT_MIN_RELAY_FEE;
/** @default 336 h (two weeks, ms) — a transfer pending this long leaves the mempool as `expired` (Bitcoin Core's `DEFAULT_MEMPOOL_EXPIRE`). */
export const DEFAULT_MEMPOOL_EXPIRY_MS = 336 * 3600 * 1000;

