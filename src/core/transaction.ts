import { ByteReader, ByteWriter, DecodeError, fromHex, toHex } from './encoding.js';
import { hashToHex, sha256d } from './hash.js';
import { MAX_MONEY } from './params.js';
import { sign } from './ed25519.js';

/** Type byte of a transfer in the binary encoding. */
export const TX_TYPE_COINBASE = 0;
export const TX_TYPE_TRANSFER = 1;
/** Serialised sizes in bytes. */
export const TRANSFER_BYTES = 1 + 32 + 32 + 8 + 8 + 8 + 64;
export const COINBASE_BYTES = 1 + 32 + 8 + 4;
/** Largest per-sender nonce, so that it stays an exact integer in JSON. */
export const MAX_TX_NONCE = Number.MAX_SAFE_INTEGER;

/**
 * A signed transfer in the account model (seeds 001/003 `{sender, recipient,
 * amount}` plus fee, nonce and signature). Keys are ed25519 public keys (32
 * bytes), amounts and fees base units, `nonce` the sender's count of earlier
 * transfers (replay protection), `signature` ed25519 (64 bytes) over
 * {@link signingBytes}.
 */
export interface TransferTx {
  type: 'transfer';
  sender: Uint8Array;
  recipient: Uint8Array;
  amount: bigint;
  fee: bigint;
  nonce: number;
  signature: Uint8Array;
}

/** The first transaction of every block: pays reward plus fees to the miner. `height` makes every coinbase unique (as BIP 34). */
export interface CoinbaseTx {
  type: 'coinbase';
  recipient: Uint8Array;
  amount: bigint;
  height: number;
}

export type Transaction = TransferTx | CoinbaseTx;

/** JSON form: keys and signature as hex, amounts as decimal strings of base units (never JSON numbers, never fractions). */
export type TransactionJson =
  | { type: 'transfer'; sender: string; recipient: string; amount: string; fee: string; nonce: number; signature: string }
  | { type: 'coinbase'; recipient: string; amount: string; height: number };

/** Serialised size in bytes. */
export function txSize(tx: Transaction): number {
  return tx.type === 'transfer' ? TRANSFER_BYTES : COINBASE_BYTES;
}

function writeTransferBody(w: ByteWriter, tx: Omit<TransferTx, 'signature' | 'type'>): void {
  w.u8(TX_TYPE_TRANSFER).raw(tx.sender).raw(tx.recipient).u64(tx.amount).u64(tx.fee).u64(BigInt(tx.nonce));
}

/**
 * The bytes a transfer's signature covers: the network id (genesis hash, so a
 * signature is valid on one network only) followed by the transfer without its
 * signature.
 */
export function signingBytes(networkId: Uint8Array, tx: Omit<TransferTx, 'signature' | 'type'>): Uint8Array {
  const w = new ByteWriter(32 + TRANSFER_BYTES - 64);
  w.raw(networkId);
  writeTransferBody(w, tx);
  return w.bytes;
}

/** Binary encoding (type byte first). */
export function encodeTx(tx: Transaction): Uint8Array {
  const w = new ByteWriter(txSize(tx));
  writeTx(w, tx);
  return w.bytes;
}

export function writeTx(w: ByteWriter, tx: Transaction): void {
  if (tx.type === 'transfer') {
    writeTransferBody(w, tx);
    w.raw(tx.signature);
  } else {
    w.u8(TX_TYPE_COINBASE).raw(tx.recipient).u64(tx.amount).u32(tx.height);
  }
}

/** @throws DecodeError on an unknown type byte or missing bytes. */
export function readTx(r: ByteReader): Transaction {
  const type = r.u8();
  if (type === TX_TYPE_TRANSFER) {
    const sender = r.raw(32);
    const recipient = r.raw(32);
    const amount = r.u64();
    const fee = r.u64();
    const nonce = r.u64();
    if (nonce > BigInt(MAX_TX_NONCE)) throw new DecodeError('transaction nonce exceeds 2^53-1');
    return { type: 'transfer', sender, recipient, amount, fee, nonce: Number(nonce), signature: r.raw(64) };
  }
  if (type === TX_TYPE_COINBASE) {
    return { type: 'coinbase', recipient: r.raw(32), amount: r.u64(), height: r.u32() };
  }
  throw new DecodeError(`unknown transaction type byte ${type}`);
}

/** Decodes exactly one transaction. @throws DecodeError on trailing bytes or a bad encoding. */
export function decodeTx(bytes: Uint8Array): Transaction {
  const r = new ByteReader(bytes);
  const tx = readTx(r);
  if (r.remaining !== 0) throw new DecodeError(`${r.remaining} trailing bytes after transaction`);
  return tx;
}

/** Transaction id: SHA-256d of the full binary encoding, internal byte order. */
export function txHash(tx: Transaction): Uint8Array {
  return sha256d(encodeTx(tx));
}

/** Transaction id in display hex. */
export function txid(tx: Transaction): string {
  return hashToHex(txHash(tx));
}

export function txToJson(tx: Transaction): TransactionJson {
  if (tx.type === 'transfer') return { type: 'transfer', ...transferFieldsJson(tx), signature: toHex(tx.signature) };
  return { type: 'coinbase', recipient: toHex(tx.recipient), amount: tx.amount.toString(), height: tx.height };
}

/**
 * What a transfer says, without its signature, as JSON: keys in hex, amounts
 * as decimal strings of base units. The shape of transfer events (HTTP event
 * stream, NATS `tx.accepted`).
 */
export function transferFieldsJson(tx: TransferTx): { sender: string; recipient: string; amount: string; fee: string; nonce: number } {
  return { sender: toHex(tx.sender), recipient: toHex(tx.recipient), amount: tx.amount.toString(), fee: tx.fee.toString(), nonce: tx.nonce };
}

const AMOUNT_RE = /^(0|[1-9][0-9]{0,18})$/;

/**
 * Parses an amount in base units from its decimal string.
 * @throws DecodeError for anything but a string of digits without sign,
 *   fraction, exponent or leading zeros, or a value above {@link MAX_MONEY}.
 */
export function parseAmount(v: unknown, what = 'amount'): bigint {
  if (typeof v !== 'string') throw new DecodeError(`${what} must be a decimal string of base units, got ${typeof v}`);
  if (!AMOUNT_RE.test(v)) throw new DecodeError(`${what} must be a non-negative integer of base units without sign, fraction or exponent, got ${JSON.stringify(v.slice(0, 40))}`);
  const n = BigInt(v);
  if (n > MAX_MONEY) throw new DecodeError(`${what} exceeds MAX_MONEY (${MAX_MONEY} base units)`);
  return n;
}

function safeInt(v: unknown, what: string, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    throw new DecodeError(`${what} must be an integer from 0 to ${max}`);
  }
  return v;
}

/**
 * Parses the JSON form of a transaction.
 * @throws DecodeError naming the first bad field.
 */
export function txFromJson(j: unknown): Transaction {
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new DecodeError('transaction must be an object');
  const o = j as Record<string, unknown>;
  if (o.type === 'transfer') {
    return {
      type: 'transfer',
      sender: fromHex(o.sender as string, 32, 'transaction.sender'),
      recipient: fromHex(o.recipient as string, 32, 'transaction.recipient'),
      amount: parseAmount(o.amount, 'transaction.amount'),
      fee: parseAmount(o.fee, 'transaction.fee'),
      nonce: safeInt(o.nonce, 'transaction.nonce', MAX_TX_NONCE),
      signature: fromHex(o.signature as string, 64, 'transaction.signature'),
    };
  }
  if (o.type === 'coinbase') {
    return {
      type: 'coinbase',
      recipient: fromHex(o.recipient as string, 32, 'transaction.recipient'),
      amount: parseAmount(o.amount, 'transaction.amount'),
      height: safeInt(o.height, 'transaction.height', 0xffffffff),
    };
  }
  throw new DecodeError('transaction.type must be "transfer" or "coinbase"');
}

/** Fields of a transfer before signing. */
export type UnsignedTransfer = Omit<TransferTx, 'signature' | 'type'>;

/**
 * Builds and signs a transfer with tweetnacl (`secretKey`: 64 bytes, seed ‖
 * public key; the sender is its public half).
 */
export function signTransfer(networkId: Uint8Array, fields: Omit<UnsignedTransfer, 'sender'>, secretKey: Uint8Array): TransferTx {
  const sender = secretKey.slice(32, 64);
  const body = { ...fields, sender };
  return { type: 'transfer', ...body, signature: sign(signingBytes(networkId, body), secretKey) };
}
