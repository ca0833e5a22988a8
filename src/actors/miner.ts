import { computeMerkleRoot, type Block } from '../core/block.js';
import { bytesEqual } from '../core/encoding.js';
import { decodeHeader, encodeHeader } from '../core/header.js';
import { BLOCK_VERSION, MAX_BLOCK_BYTES, MAX_BLOCK_TXS, blockReward, type NetworkParams } from '../core/params.js';
import { decodeCompact } from '../core/pow.js';
import { assertNever } from '../core/reject.js';
import type { CoinbaseTx, Transaction, TransferTx } from '../core/transaction.js';
import type { EventBus } from './events.js';
import type { Miner, MiningSolution } from '../mining/types.js';
import type { ChainMsg, NextBlockContext, SubmitBlockResult } from './chain.js';
import type { MempoolMsg } from './mempool.js';
import type { Actor, ActorContext, ActorRef, Reply } from './runtime/actor.js';
import { systemClock, unixSeconds, type Clock } from '../core/clock.js';
import { request } from './runtime/actor.js';

/** How often a template is rebuilt to pick up new mempool transactions, ms. */
export const TEMPLATE_REFRESH_MS = 2_000;
/** Interval of `mining-stats` events, ms. */
export const MINING_STATS_INTERVAL_MS = 2_000;

/** Messages of the miner actor. */
/** Events the miner publishes on the node's bus. */
export type MinerEvent =
  | { type: 'block-mined'; hash: string; height: number }
  | { type: 'mining-stats'; hashRate: number; workers: number; blocksWon: number };

export type MinerMsg =
  | { type: 'miner/start' }
  | { type: 'miner/stop' }
  | { type: 'miner/tip-changed' }
  | { type: 'miner/mempool-changed' }
  | { type: 'miner/solved'; generation: number; template: Block; solution: MiningSolution | null }
  | { type: 'miner/failed'; generation: number; error: unknown }
  | { type: 'miner/stats'; reply: Reply<MinerStats> };

export interface MinerStats {
  mining: boolean;
  /** Hashes per second. */
  hashRate: number;
  blocksMined: number;
}

export interface MinerActorDeps {
  params: NetworkParams;
  chain: ActorRef<ChainMsg>;
  mempool: ActorRef<MempoolMsg>;
  /** The hash power: a local piscina pool or a NATS farm. */
  miner: Miner;
  /** 32-byte ed25519 public key the coinbase pays. */
  address: Uint8Array;
  bus: EventBus;
  /** @default systemClock */
  clock?: Clock;
}

/**
 * The miner actor: builds a block template on the tip (mempool transfers by
 * fee, a coinbase of reward + fees to the configured address), hands it to
 * the mining pool, and submits solved blocks to the chain. A new tip aborts
 * the pool's work (cooperatively, within one nonce chunk) and starts a new
 * template; new mempool transactions refresh the template at most every
 * {@link TEMPLATE_REFRESH_MS}.
 */
export class MinerActor implements Actor<MinerMsg> {
  private active = false;
  private generation = 0;
  private abort: AbortController | undefined;
  private templateAt = 0;
  private refreshTimer: NodeJS.Timeout | undefined;
  private blocksMined = 0;
  private self!: ActorRef<MinerMsg>;
  private ctx!: ActorContext<MinerMsg>;
  private readonly clock: Clock;

  constructor(private readonly deps: MinerActorDeps) {
    this.clock = deps.clock ?? systemClock;
  }

  start(ctx: ActorContext<MinerMsg>): void {
    this.self = ctx.self;
    this.ctx = ctx;
  }

  stop(): void {
    this.active = false;
    clearTimeout(this.refreshTimer);
    this.abort?.abort();
  }

  async receive(msg: MinerMsg): Promise<void> {
    switch (msg.type) {
      case 'miner/start':
        if (!this.active) {
          this.active = true;
          await this.newWork();
        }
        return;
      case 'miner/stop':
        this.active = false;
        this.generation++;
        this.abort?.abort();
        return;
      case 'miner/tip-changed':
        if (this.active) await this.newWork();
        return;
      case 'miner/mempool-changed': {
        if (!this.active) return;
        const wait = this.templateAt + TEMPLATE_REFRESH_MS - this.clock.nowMs();
        if (wait <= 0) await this.newWork();
        else this.refreshTimer ??= setTimeout(() => {
          this.refreshTimer = undefined;
          this.self.offer({ type: 'miner/mempool-changed' });
        }, wait);
        return;
      }
      case 'miner/solved':
        await this.onSolved(msg.generation, msg.template, msg.solution);
        return;
      case 'miner/failed':
        if (msg.generation === this.generation) throw msg.error;
        return;
      case 'miner/stats':
        msg.reply.resolve({ mining: this.active, hashRate: this.active ? this.deps.miner.hashRate() : 0, blocksMined: this.blocksMined });
        return;
      default:
        assertNever(msg);
    }
  }

  private async onSolved(generation: number, template: Block, solution: MiningSolution | null): Promise<void> {
    if (!solution || generation !== this.generation) return;
    const header = decodeHeader(solution.header);
    if (!bytesEqual(header.merkleRoot, template.header.merkleRoot)) throw new Error('pool returned a header of another template');
    const block: Block = { header, txs: template.txs };
    const result = await request(this.deps.chain, 'chain/submit-block', { block, source: 'miner' });
    if (result.status === 'connected' || result.status === 'reorg') {
      this.blocksMined++;
      this.deps.bus.publish({ type: 'block-mined', hash: result.hash, height: result.height });
    } else if (result.status === 'invalid') {
      // Our own template failed (a mempool entry no longer fits the state): re-check the mempool before the next template.
      this.deps.mempool.tell({ type: 'mempool/revalidate' });
    }
    // The tip-changed event starts the next template; if the block lost a race, mine again anyway.
    if (this.active && generation === this.generation) await this.newWork();
  }

  /** Aborts the current work and starts mining a fresh template on the tip. */
  private async newWork(): Promise<void> {
    this.abort?.abort();
    const generation = ++this.generation;
    const abort = new AbortController();
    this.abort = abort;
    const template = await this.buildTemplate();
    if (generation !== this.generation) return;
    this.templateAt = this.clock.nowMs();
    const target = decodeCompact(template.header.bits).target;
    this.deps.miner.mine({ header: encodeHeader(template.header), target }, abort.signal).then(
      (solution) => this.ctx.deliver({ type: 'miner/solved', generation, template, solution }),
      (error: unknown) => this.ctx.deliver({ type: 'miner/failed', generation, error }),
    );
  }

  private async buildTemplate(): Promise<Block> {
    const { chain, mempool, params, address } = this.deps;
    const ctx = await request(chain, 'chain/next-block-context', {});
    const transfers = await request(mempool, 'mempool/template', { maxTxs: MAX_BLOCK_TXS - 1, maxBytes: MAX_BLOCK_BYTES - 1_000 });
    let fees = 0n;
    for (const tx of transfers) fees += tx.fee;
    const coinbase: CoinbaseTx = { type: 'coinbase', recipient: address, amount: blockReward(params, ctx.height) + fees, height: ctx.height };
    const txs: Transaction[] = [coinbase, ...transfers];
    return {
      header: {
        version: BLOCK_VERSION,
        prevHash: ctx.prevHash,
        merkleRoot: computeMerkleRoot(txs),
        time: Math.max(unixSeconds(this.clock), ctx.minTime),
        bits: ctx.bits,
        nonce: 0,
      },
      txs,
    };
  }
}
