/**
 * Messages between the mining pool and its piscina workers, and the layout
 * of the SharedArrayBuffer through which the pool cancels work without a
 * message round trip: the pool bumps a generation counter, workers compare
 * it with their task's generation every {@link POLL_NONCES} nonces.
 */
import type { KernelVariant } from './kernel.js';

/** Nonces a worker hashes between two looks at the generation counter (≈ 0.4 ms with native-sha-ni, ≈ 1.5 ms with wasm-simd, ≈ 5 ms with ts). */
export const POLL_NONCES = 8_192;
/** Most worker threads one pool supports (size of the per-worker status table). */
export const MAX_WORKERS = 256;

/** Int32 word offsets in the control buffer. */
export const CONTROL = {
  /** The generation of the work the pool wants hashed; anything else stops. */
  GENERATION: 0,
  /** Next free worker slot (each worker takes one on its first task). */
  NEXT_SLOT: 1,
  /** Start of MAX_WORKERS words: the generation each worker last started hashing. */
  WORKER_GENERATION: 4,
} as const;
/** Byte offset of MAX_WORKERS float64: when each worker started its current generation (ms, `timeOrigin + now()`). */
export const WORKER_STARTED_AT_BYTE = (CONTROL.WORKER_GENERATION + MAX_WORKERS) * 4;
/** Size of the control buffer, bytes. */
export const CONTROL_BYTES = WORKER_STARTED_AT_BYTE + MAX_WORKERS * 8;

/** `workerData` of every mining worker. */
export interface MiningWorkerData {
  /** The control buffer, {@link CONTROL_BYTES} bytes. */
  control: SharedArrayBuffer;
  /** Kernel variant to use; the fastest available when absent. */
  variant?: KernelVariant;
}

/** One chunk of work: a nonce range of one header. Plain data (structured clone). */
export interface MiningTask {
  /** 80-byte header template (time already rolled as the pool wants). */
  header: Uint8Array;
  target: bigint;
  startNonce: number;
  count: number;
  /** Hash only while the control buffer's generation equals this. */
  generation: number;
}

/** What a worker answers for a {@link MiningTask}. */
export interface MiningTaskResult {
  /** The first nonce of the range meeting the target, if one was found. */
  nonce: number | undefined;
  /** Nonces hashed (up to and including the winner). */
  hashes: number;
  /** Time spent hashing, ms (for the pool's chunk sizing). */
  elapsedMs: number;
  /** True when the task stopped early because the generation changed. */
  cancelled: boolean;
  /** The kernel variant that did the work. */
  variant: KernelVariant;
}

/** Where a worker is: the generation it last started hashing and when (ms, `performance.timeOrigin + performance.now()`). */
export interface WorkerActivity {
  generation: number;
  startedAt: number;
}

/** Absolute time in ms comparable across threads. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
