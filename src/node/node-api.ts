import type { SubmitBlockResult as ChainSubmitResult } from '../actors/chain.js';
import type { BlockJson } from '../core/block.js';
import type { RejectCode } from '../core/reject.js';
import type { TransactionJson } from '../core/transaction.js';
import type { PeerView } from '../actors/peer-manager.js';

export type { PeerView };

/**
 * The facade a running peer offers to its local interfaces (HTTP API, NATS
 * requests, the devnet summary). Every method answers from the peer's actors;
 * none of them throws for bad input: they return `undefined` or a typed
 * rejection. Amounts are decimal strings of base units, hashes display hex.
 */
export interface NodeApi {
  info(): Promise<NodeInfo>;
  /** A block with its main-chain status; undefined when unknown. */
  blockByHash(hash: string): Promise<BlockView | undefined>;
  /** The main-chain block at `height`; undefined above the tip. */
  blockByHeight(height: number): Promise<BlockView | undefined>;
  /** A transaction from the mempool or the main chain; undefined when unknown. */
  transaction(txid: string): Promise<TransactionView | undefined>;
  /** Confirmed balance and nonce of an account (hex ed25519 public key), plus the next nonce counting the mempool. */
  account(key: string): Promise<AccountView>;
  /** Validates and admits a transaction in its JSON form into the mempool (and relays it). */
  submitTransaction(tx: unknown): Promise<SubmitResult>;
  peers(): Promise<PeerView[]>;
  /** Validates and connects a block in its JSON form (Bitcoin's `submitblock`), as if a peer had sent it; relayed when it connects. */
  submitBlock(block: unknown): Promise<SubmitBlockResult>;
}

/** Outcome of {@link NodeApi.submitBlock}: the chain's verdict, or `malformed` when the JSON is not a block. */
export type SubmitBlockResult = ChainSubmitResult | { status: 'malformed'; reason: string };

export interface NodeInfo {
  network: string;
  /** Genesis hash, display hex. */
  networkId: string;
  nodeId: string;
  height: number;
  tip: string;
  /** Cumulative work of the tip, hex. */
  chainWork: string;
  peers: number;
  mempool: number;
  /** Local mining hash rate, hashes per second (0 when not mining). */
  hashRate: number;
  mining: boolean;
  /** Blocks on the main chain whose coinbase pays this peer's mining address. */
  blocksWon: number;
  miningAddress?: string;
}

export interface BlockView {
  hash: string;
  height: number;
  /** Whether the block is on the main chain. */
  mainChain: boolean;
  /** Serialised size in bytes. */
  size: number;
  block: BlockJson;
}

export interface TransactionView {
  txid: string;
  /** 'mempool' or the hash of the main-chain block holding it. */
  status: 'mempool' | 'confirmed';
  blockHash?: string;
  height?: number;
  tx: TransactionJson;
}

export interface AccountView {
  key: string;
  /** Confirmed balance, base units (decimal string). */
  balance: string;
  /** Nonce the next confirmed transfer must carry. */
  nonce: number;
  /** Next nonce counting this account's transfers in the mempool. */
  pendingNonce: number;
}

export type SubmitResult = { accepted: true; txid: string } | { accepted: false; code: RejectCode; reason: string; txid?: string };

