/**
 * The local mining pool: piscina worker threads running the mining kernel on
 * nonce ranges of one header template, with cooperative cancellation through
 * a shared generation counter, adaptive chunk sizes, time rolling when the
 * nonce space of a header is used up, and a hash-rate estimate.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { kernelChoice, type KernelChoice, type KernelVariant } from './kernel.js';
import {
  CONTROL,
  CONTROL_BYTES,
  MAX_WORKERS,
  WORKER_STARTED_AT_BYTE,
  type MiningTask,
  type MiningTaskResult,
  type MiningWorkerData,
  type WorkerActivity,
} from './control.js';
import { HEADER_BYTES, NONCE_OFFSET, NONCE_SPACE, TIME_OFFSET } from './sha256-job.js';
import type { Miner, MiningSolution, MiningWork } from './types.js';

/**
 * Wall time one nonce range should take, ms. @default 100 (ranges of 50–200 ms
 * keep piscina's ≈ 0.1 ms round trip negligible and the pool responsive).
 */
export const DEFAULT_CHUNK_MS = 100;
/** Smallest and largest accepted `chunkMs`, ms. */
export const MIN_CHUNK_MS = 1;
export const MAX_CHUNK_MS = 10_000;
/** Hash rate per worker assumed before the first measurement, hashes per ms (≈ the TypeScript kernel). */
export const INITIAL_RATE_PER_MS = 1_000;
/** Smallest nonce range handed to a worker. */
export const MIN_CHUNK_NONCES = 4_096;
/** Weight of a new measurement in the per-worker rate estimate (exponential moving average). */
export const RATE_SMOOTHING = 0.3;
/** Window of {@link MiningPool.hashRate}, ms. */
export const HASH_RATE_WINDOW_MS = 5_000;
/** Longest `close` waits for workers to notice the cancellation before terminating them, ms. */
export const CLOSE_DRAIN_MS = 2_000;
/** Largest header time; rolling past it is an error (the field is 32 bits). */
export const MAX_HEADER_TIME = 0xffffffff;

/** Options of {@link MiningPool}. */
export interface MiningPoolInit {
  /** Worker threads. @default os.availableParallelism() */
  workers?: number;
  /** Target duration of one nonce range, ms. @default {@link DEFAULT_CHUNK_MS} */
  chunkMs?: number;
  /** Kernel variant of the workers. @default the fastest available (`native-sha-ni`, else `wasm-simd`, else `ts`; see `kernelChoice`) */
  variant?: KernelVariant;
  /**
   * Nonces tried per header time before the time is rolled forward by one
   * second. @default 2^32 (the whole nonce field); smaller values are for tests.
   */
  nonceSpace?: number;
  /** Called on the main thread after every finished or cancelled nonce range (statistics, benchmarks). */
  onChunk?: (report: ChunkReport) => void;
}

/** One nonce range a worker finished (or stopped early), for {@link MiningPoolInit.onChunk}. */
export interface ChunkReport {
  /** When the worker started and stopped hashing it, ms on this thread's `performance.now()` clock. */
  startedAt: number;
  finishedAt: number;
  hashes: number;
  /** True when it stopped early because the work was cancelled. */
  cancelled: boolean;
  variant: KernelVariant;
}

/** An option of {@link MiningPoolInit} is invalid. */
export class MiningPoolOptionError extends TypeError {
  override readonly name = 'MiningPoolOptionError';
  readonly code = 'ERR_MINING_POOL_OPTION';
}

/** The header time cannot be rolled further (it would overflow 32 bits). */
export class TimeRollOverflowError extends Error {
  override readonly name = 'TimeRollOverflowError';
  readonly code = 'ERR_TIME_ROLL_OVERFLOW';
}

/** The pool was closed. */
export class MiningPoolClosedError extends Error {
  override readonly name = 'MiningPoolClosedError';
  readonly code = 'ERR_MINING_POOL_CLOSED';
  constructor() {
    super('mining pool is closed');
  }
}

function positiveInteger(value: number | undefined, name: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new MiningPoolOptionError(`options.${name} must be a positive integer ≤ ${max}`);
  }
  return value;
}

/** State of one `mine` call. */
interface Session {
  generation: number;
  target: bigint;
  /** The header being searched, with the current (possibly rolled) time. */
  header: Uint8Array;
  time: number;
  nextNonce: number;
  hashes: number;
  done: boolean;
  finish(outcome: MiningSolution | null | Error): void;
}

/**
 * A {@link Miner} backed by piscina worker threads on this host.
 *
 * `mine` hands each worker nonce ranges sized to about `chunkMs` of work at
 * the measured rate; the first solution, an abort of `signal`, a new `mine`
 * call or `close` bumps the shared generation counter, and every worker
 * stops within `POLL_NONCES` (8,192) nonces, about a millisecond. When all
 * `nonceSpace` nonces of a header are handed out, the header time (offset
 * 68) is rolled forward by one second and the search continues.
 */
export class MiningPool implements Miner {
  /** Number of worker threads. */
  readonly workers: number;
  /** The kernel variant every worker runs, and why (logged by the node at start-up). */
  readonly kernel: KernelChoice;
  readonly chunkMs: number;
  readonly nonceSpace: number;
  private readonly piscina: Piscina<MiningTask, MiningTaskResult>;
  private readonly control: Int32Array;
  private readonly startedAt: Float64Array;
  private ratePerMs = INITIAL_RATE_PER_MS;
  private session: Session | undefined;
  private closed = false;
  private readonly onChunk: ((report: ChunkReport) => void) | undefined;
  /** Tasks handed to piscina and not yet answered, and who waits for that to reach zero. */
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  /** Completed-chunk samples for {@link hashRate}: when hashing started and ended (ms, `performance.now()`) and hashes. */
  private samples: Array<{ from: number; at: number; hashes: number }> = [];

  /** @throws MiningPoolOptionError on an invalid option. */
  constructor(init: MiningPoolInit = {}) {
    this.workers = positiveInteger(init.workers, 'workers', availableParallelism(), MAX_WORKERS);
    this.chunkMs = positiveInteger(init.chunkMs, 'chunkMs', DEFAULT_CHUNK_MS, MAX_CHUNK_MS);
    this.nonceSpace = positiveInteger(init.nonceSpace, 'nonceSpace', NONCE_SPACE, NONCE_SPACE);
    this.onChunk = init.onChunk;
    const buffer = new SharedArrayBuffer(CONTROL_BYTES);
    this.control = new Int32Array(buffer);
    this.startedAt = new Float64Array(buffer, WORKER_STARTED_AT_BYTE, MAX_WORKERS);
    this.kernel = init.variant ? { variant: init.variant, reason: 'chosen by the caller' } : kernelChoice();
    // The workers run the variant chosen here, so what the node logs is what hashes.
    const workerData: MiningWorkerData = { control: buffer, variant: this.kernel.variant };
    this.piscina = new Piscina<MiningTask, MiningTaskResult>({
      filename: new URL('./worker.js', import.meta.url).href,
      minThreads: this.workers,
      maxThreads: this.workers,
      workerData,
    });
    // Piscina reports worker-level failures as 'error' events; they fail the current work.
    this.piscina.on('error', (error: unknown) => {
      this.session?.finish(error instanceof Error ? error : new Error(String(error)));
    });
  }

  /** The generation of the work currently wanted (bumped by every new `mine`, abort, solution and `close`). */
  get generation(): number {
    return Atomics.load(this.control, CONTROL.GENERATION);
  }

  /**
   * What each worker last started hashing (diagnostics and the cancellation
   * benchmark): one entry per worker that has run at least one task.
   */
  workerActivity(): WorkerActivity[] {
    const n = Math.min(Atomics.load(this.control, CONTROL.NEXT_SLOT), MAX_WORKERS);
    const out: WorkerActivity[] = [];
    for (let i = 0; i < n; i++) {
      out.push({ generation: Atomics.load(this.control, CONTROL.WORKER_GENERATION + i), startedAt: this.startedAt[i]! });
    }
    return out;
  }

  /**
   * Searches `work` until a solution is found (resolves it), `signal` aborts,
   * another `mine` call starts or the pool closes (resolves null).
   * @throws MiningPoolClosedError when the pool is closed; rejects with a worker's error or
   *   TimeRollOverflowError when the header time cannot be rolled further.
   */
  mine(work: MiningWork, signal: AbortSignal): Promise<MiningSolution | null> {
    if (this.closed) return Promise.reject(new MiningPoolClosedError());
    if (work.header.length !== HEADER_BYTES) {
      return Promise.reject(new RangeError(`header must be ${HEADER_BYTES} bytes, got ${work.header.length}`));
    }
    if (work.target < 0n) return Promise.reject(new RangeError('target must be non-negative'));
    this.session?.finish(null);
    if (signal.aborted) return Promise.resolve(null);
    const header = work.header.slice();
    const time = new DataView(header.buffer).getUint32(TIME_OFFSET, true);
    const generation = Atomics.add(this.control, CONTROL.GENERATION, 1) + 1;
    return new Promise<MiningSolution | null>((resolve, reject) => {
      const onAbort = (): void => session.finish(null);
      const session: Session = {
        generation,
        target: work.target,
        header,
        time,
        nextNonce: 0,
        hashes: 0,
        done: false,
        finish: (outcome) => {
          if (session.done) return;
          session.done = true;
          signal.removeEventListener('abort', onAbort);
          if (this.session === session) {
            this.session = undefined;
            // Stops every worker still hashing this session within POLL_NONCES nonces.
            Atomics.compareExchange(this.control, CONTROL.GENERATION, generation, generation + 1);
          }
          if (outcome instanceof Error) reject(outcome);
          else resolve(outcome);
        },
      };
      this.session = session;
      signal.addEventListener('abort', onAbort, { once: true });
      for (let i = 0; i < this.workers; i++) void this.runLane(session);
    });
  }

  /** One worker's loop: take a range, hash it, account for it, repeat. */
  private async runLane(session: Session): Promise<void> {
    try {
      while (!session.done) {
        const task = this.nextTask(session);
        let result: MiningTaskResult;
        this.inFlight++;
        try {
          result = await this.piscina.run(task);
        } finally {
          if (--this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
        }
        this.account(result);
        if (session.done) return;
        session.hashes += result.hashes;
        if (result.nonce !== undefined) {
          const header = task.header.slice();
          new DataView(header.buffer).setUint32(NONCE_OFFSET, result.nonce, true);
          session.finish({ header, hashes: session.hashes });
        }
      }
    } catch (error) {
      session.finish(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** The next nonce range of `session`, rolling the header time when its nonce space is used up. */
  private nextTask(session: Session): MiningTask {
    if (session.nextNonce >= this.nonceSpace) {
      if (session.time >= MAX_HEADER_TIME) throw new TimeRollOverflowError(`header time ${session.time} cannot be rolled forward`);
      session.time++;
      session.nextNonce = 0;
      session.header = session.header.slice();
      new DataView(session.header.buffer).setUint32(TIME_OFFSET, session.time, true);
    }
    const wanted = Math.max(MIN_CHUNK_NONCES, Math.round(this.ratePerMs * this.chunkMs));
    const count = Math.min(wanted, this.nonceSpace - session.nextNonce);
    const task: MiningTask = {
      header: session.header,
      target: session.target,
      startNonce: session.nextNonce,
      count,
      generation: session.generation,
    };
    session.nextNonce += count;
    return task;
  }

  /** Updates the rate estimate (chunk sizing) and the hash-rate samples. */
  private account(result: MiningTaskResult): void {
    if (result.hashes >= MIN_CHUNK_NONCES && result.elapsedMs > 0) {
      this.ratePerMs += RATE_SMOOTHING * (result.hashes / result.elapsedMs - this.ratePerMs);
    }
    const now = performance.now();
    this.samples.push({ from: now - result.elapsedMs, at: now, hashes: result.hashes });
    this.onChunk?.({ startedAt: now - result.elapsedMs, finishedAt: now, hashes: result.hashes, cancelled: result.cancelled, variant: result.variant });
    while (this.samples.length > 0 && this.samples[0]!.at < now - HASH_RATE_WINDOW_MS) this.samples.shift();
  }

  /**
   * Hashes per second of all workers: the hashes of the ranges finished in
   * the last {@link HASH_RATE_WINDOW_MS} over the time since the first of
   * them started (at most the window), so thread start-up and idle time
   * before the window do not count; 0 when idle.
   */
  hashRate(): number {
    const now = performance.now();
    const windowStart = now - HASH_RATE_WINDOW_MS;
    let hashes = 0;
    let since = now;
    for (const s of this.samples) {
      if (s.at < windowStart) continue;
      hashes += s.hashes;
      since = Math.min(since, s.from);
    }
    const span = now - Math.max(since, windowStart);
    return hashes > 0 && span > 0 ? (hashes * 1000) / span : 0;
  }

  /**
   * Resolves when no nonce range is being hashed any more, e.g. after an
   * abort once every worker has noticed it (within POLL_NONCES nonces).
   */
  whenIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Per-worker hash rate the chunk sizing currently assumes, hashes per second. */
  workerRate(): number {
    return this.ratePerMs * 1000;
  }

  /**
   * Stops any work (the pending `mine` resolves null), waits up to
   * {@link CLOSE_DRAIN_MS} for the workers to answer their last ranges (so
   * no answer arrives for a terminated thread), then terminates them.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.session?.finish(null);
    Atomics.add(this.control, CONTROL.GENERATION, 1);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.whenIdle(), new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_DRAIN_MS)))]);
    clearTimeout(timer);
    await this.piscina.destroy();
  }
}
