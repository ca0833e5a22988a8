import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { ByteWriter } from '../core/encoding.js';
import { TRANSFER_BYTES, writeTx, type TransferTx } from '../core/transaction.js';
import { verifyTransferSignature } from '../core/validation.js';
import type { VerifyTask, VerifyTaskResult } from './verify-task.js';

/**
 * Checks the signatures of many transfers at once. Implementations run the
 * core's `verifyTransferSignature`; they differ only in where.
 */
export interface SignatureVerifier {
  /**
   * Resolves with one boolean per transfer, in order: whether its signature
   * verifies on this verifier's network. Never rejects for a bad signature.
   * `ids`: the transfers' txids (display hex, same order) when the caller
   * has them; a verifier may use them to find verdicts it already holds.
   * @throws Error (rejects) when the verifier is closed or a worker fails.
   */
  verify(txs: readonly TransferTx[], ids?: readonly string[]): Promise<boolean[]>;
  /** Stops the worker threads. Idempotent. */
  close(): Promise<void>;
}

/** @default availableParallelism() — worker threads of the verification pool (0: verify on the calling thread). */
export const DEFAULT_VERIFY_THREADS = availableParallelism();
/**
 * Batches smaller than this are verified on the calling thread: a piscina
 * round trip costs about as much as one verification (perf-facts: ≈ 81 µs
 * against ≈ 75 µs), so small batches gain nothing from a worker.
 */
export const MIN_POOL_BATCH = 16;
/** Fewest transfers per worker task (≈ 5 ms of work at 13,000 verifications/s), so hand-off costs stay small. */
export const MIN_TASK_TRANSFERS = 64;
/** How long a verification worker stays without work before it stops, ms. */
export const VERIFY_WORKER_IDLE_MS = 60_000;
/** Most threads a pool may be configured with. */
export const MAX_VERIFY_THREADS = 64;

/** Options of {@link VerifyPool}. */
export interface VerifyPoolInit {
  /** Network id (genesis hash, 32 bytes): signatures are checked over this network's signing bytes. */
  networkId: Uint8Array;
  /** Worker threads; 0 verifies every batch on the calling thread. @default DEFAULT_VERIFY_THREADS */
  threads?: number;
}

/**
 * Signature verification on every core: a piscina pool of worker threads
 * (started with the first batch, stopped after {@link VERIFY_WORKER_IDLE_MS}
 * without work), each batch split into one task per thread (at least
 * {@link MIN_TASK_TRANSFERS} transfers each) so the node's event loop stays
 * free while the batch is checked. Transfers travel packed in their binary
 * encoding in one transferred buffer per task.
 */
export class VerifyPool implements SignatureVerifier {
  readonly threads: number;
  private readonly networkId: Uint8Array;
  private piscina: Piscina<VerifyTask, VerifyTaskResult> | undefined;
  private closed = false;

  /** @throws RangeError when `threads` is not an integer from 0 to {@link MAX_VERIFY_THREADS} or `networkId` is not 32 bytes. */
  constructor(init: VerifyPoolInit) {
    const threads = init.threads ?? DEFAULT_VERIFY_THREADS;
    if (!Number.isInteger(threads) || threads < 0 || threads > MAX_VERIFY_THREADS) {
      throw new RangeError(`options.threads must be an integer from 0 to ${MAX_VERIFY_THREADS}`);
    }
    if (!(init.networkId instanceof Uint8Array) || init.networkId.length !== 32) throw new RangeError('options.networkId must be 32 bytes');
    this.threads = threads;
    this.networkId = init.networkId;
    if (threads > 0) {
      this.piscina = new Piscina<VerifyTask, VerifyTaskResult>({
        filename: new URL('./verify-worker.js', import.meta.url).href,
        // Started on the first batch, not with the node: a peer that is idle or only mines pays
        // no worker start-up (CPU at start, memory while idle); idle workers stop after a while.
        minThreads: 0,
        maxThreads: threads,
        idleTimeout: VERIFY_WORKER_IDLE_MS,
        // Verification is CPU-bound: one task at a time per thread.
        concurrentTasksPerWorker: 1,
        execArgv: workerExecArgv(process.execArgv),
      });
    }
  }

  async verify(txs: readonly TransferTx[]): Promise<boolean[]> {
    if (this.closed) throw new Error('the verification pool is closed');
    if (!this.piscina || txs.length < MIN_POOL_BATCH) return txs.map((tx) => verifyTransferSignature(tx, this.networkId));
    const perTask = Math.max(MIN_TASK_TRANSFERS, Math.ceil(txs.length / this.threads));
    const tasks: Array<Promise<VerifyTaskResult>> = [];
    for (let i = 0; i < txs.length; i += perTask) {
      const slice = txs.slice(i, i + perTask);
      const w = new ByteWriter(slice.length * TRANSFER_BYTES);
      for (const tx of slice) writeTx(w, tx);
      const transfers = w.bytes;
      tasks.push(this.piscina.run({ networkId: this.networkId, transfers }, { transferList: [transfers.buffer as ArrayBuffer] }));
    }
    const out: boolean[] = [];
    for (const r of await Promise.all(tasks)) for (const b of r) out.push(b === 1);
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const p = this.piscina;
    this.piscina = undefined;
    await p?.destroy();
  }
}

/** Options of `node` that load modules before the entry point, with a separate value or as `--flag=value`. */
const PRELOAD_FLAGS = new Set(['--import', '--loader', '--experimental-loader', '--require', '-r']);

/**
 * The parent's Node options without module preloads and loader hooks: the
 * worker runs compiled JavaScript of this package only, and hooks a test
 * runner or profiler installs in the parent would be loaded again in every
 * worker (seconds per worker on a busy machine, before the first signature).
 */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    const name = arg.split('=', 1)[0]!;
    if (!PRELOAD_FLAGS.has(name)) out.push(arg);
    else if (!arg.includes('=')) i++;
  }
  return out;
}
