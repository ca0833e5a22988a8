import type { SubmitBlockResult as ChainSubmitResult } from '../actors/chain.js';
import type { BlockJson } from '../core/block.js';
import type { RejectCode } from '../core/reject.js';
import type { TransactionJson } from '../core/transaction.js';
import type { PeerView } from '../actors/peer-manager.js';
import type { MethodTraffic, TrafficSnapshot } from '../transport/traffic.js';

export type { PeerView, MethodTraffic, TrafficSnapshot };

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
  /** Peer-protocol messages and bytes (whole frames) by method, received and sent, over every connection since start. */
  traffic(): Promise<TrafficSnapshot>;
  /** Validates and connects a block in its JSON form (Bitcoin's `submitblock`), as if a peer had sent it; relayed when it connects. */
  submitBlock(block: unknown): Promise<SubmitBlockResult>;

  /** Main-chain blocks without their transactions, newest first: heights `from`, `from - 1`, … (at most `limit`); `from` defaults to the tip. */
  chain(range: { from?: number; limit: number }): Promise<ChainPage>;
  /** Unconfirmed transfers, best fee first (at most `limit`), and the mempool's totals. */
  mempool(limit: number): Promise<MempoolView>;
  /**
   * The tracker this peer joined (document 001: its PID and the members' PIDs), with which members it is
   * connected to. The list is the tracker's last answer (asked every 10 s); `refresh` asks the tracker now
   * (document 003's "peer list" button).
   */
  tracker(options?: { refresh?: boolean }): Promise<TrackerView>;

  /** Starts mining (creating the local pool when the node was started without mining). */
  startMining(): Promise<ControlResult>;
  /** Stops mining; the pool stays ready for {@link startMining}. */
  stopMining(): Promise<ControlResult>;
  /** Dials `host:port` now and keeps it as a static peer (redialled with backoff). */
  connectPeer(host: string, port: number): Promise<ControlResult>;
  /** Document 003's "connect peers": asks the tracker for its members now and dials every one not connected. */
  connectTrackerPeers(): Promise<ControlResult & { dialing?: number }>;
  /** Closes the connection to a peer (it may dial back or be redialled later); `not-found` when not connected. */
  disconnectPeer(nodeId: string): Promise<ControlResult>;
  /** Bans a node id or a host for `seconds` and closes its connections. */
  ban(target: BanTarget, seconds: number): Promise<ControlResult>;
  /** Lifts a ban; `not-found` when there was none. */
  unban(target: BanTarget): Promise<ControlResult>;
  /** Bans in force. */
  bans(): Promise<BanView[]>;
  /**
   * Signs a transfer with this peer's mining key and submits it like {@link submitTransaction}.
   * `random` is document 003's "create transaction": a random amount (from the dust limit up to 1 % of the balance) to a
   * random recent miner, or to a fresh key when no other miner is known.
   */
  sendTransfer(request: TransferRequest): Promise<SendTransferResult>;
  /** Stops the node (as SIGTERM does); resolves once the stop has begun. */
  stopNode(): Promise<ControlResult>;
}

/**
 * Outcome of a control action: done, or refused with a code — `not-found`
 * (no such peer or ban), `unavailable` (the node has no such part: no key, no
 * tracker), `bad-request` (a parameter the caller got wrong; `reason` names it).
 */
export type ControlResult = { ok: true } | { ok: false; code: 'not-found' | 'unavailable' | 'bad-request'; reason: string };

/** Whom a ban applies to: a node id, or a host (an IP address, all its ports). */
export type BanTarget = { nodeId: string } | { host: string };

export interface BanView {
  /** `id:<nodeId>` or `host:<ip>` (an operator's ban); `key:<hex>`, `ip:<address>` or `net:<subnet>` (a misbehaving peer's). */
  key: string;
  /** End of the ban, ms since the epoch. */
  until: number;
}

/** What {@link NodeApi.sendTransfer} should send: random (document 003's button) or given fields. */
export type TransferRequest =
  | { random: true }
  | {
      random?: false;
      /** Hex ed25519 public key, 64 characters. */
      recipient: string;
      /** Base units. */
      amount: bigint;
      /** Base units. */
      fee: bigint;
    };

export type SendTransferResult = SubmitResult & { tx?: TransactionJson };

/** One main-chain block without its transactions. */
export interface BlockSummaryView {
  hash: string;
  height: number;
  prevHash: string;
  /** Header time, seconds since the epoch. */
  time: number;
  bits: number;
  nonce: number;
  txCount: number;
  /** Bytes. */
  size: number;
  /** Key (hex) the coinbase pays. */
  miner: string;
  /** Coinbase amount (reward plus fees), base units. */
  reward: string;
}

export interface ChainPage {
  /** Height of the tip when the page was read. */
  height: number;
  /** Newest first. */
  blocks: BlockSummaryView[];
}

export interface MempoolView {
  size: number;
  /** Serialised size of every transfer held, bytes. */
  bytes: number;
  transactions: Array<{ txid: string; tx: TransactionJson }>;
}

export interface TrackerView {
  /** `host:port` of the tracker, or null when none is configured. */
  tracker: string | null;
  /** This peer's PID at the tracker (document 001's `JOIN_CHAIN` answer), null until joined. */
  peerId: string | null;
  /** When the member list was last read, ms since the epoch; null before the first answer. */
  updatedAt: number | null;
  members: TrackerMemberView[];
}

export interface TrackerMemberView {
  /** The member's PID at the tracker. */
  peerId: string;
  host: string;
  port: number;
  /** Whether this entry is this peer itself. */
  self: boolean;
  /** The connected peer listening at this address, when there is one. */
  connection?: PeerView;
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
  /** Height of the tallest connected peer (its last HELLO or HEY: the handshake's, then a status refresh every 15 s), or this peer's height when it is the tallest or alone. */
  bestPeerHeight: number;
  /** `height / bestPeerHeight`, 1 when in sync (Bitcoin Core's `verificationprogress`, measured in blocks). */
  syncProgress: number;
}

export interface BlockView {
  hash: string;
  height: number;
  /** Whether the block is on the main chain. */
  mainChain: boolean;
  /** Serialised size in bytes. */
  size: number;
  block: BlockJson;
  /** Id of each transaction of `block.transactions`, in the same order (display hex). */
  txids: string[];
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

