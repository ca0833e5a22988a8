/**
 * The piscina worker of the mining pool: hashes one nonce range per task
 * with the mining kernel, looking at the shared generation counter every
 * {@link POLL_NONCES} nonces and stopping as soon as it changed
 * (cooperative cancellation; the thread is never killed).
 */
import { workerData } from 'piscina';
import { NonceScanner, bestVariant, type KernelVariant } from './kernel.js';
import { CONTROL, MAX_WORKERS, POLL_NONCES, WORKER_STARTED_AT_BYTE, nowMs, type MiningTask, type MiningTaskResult, type MiningWorkerData } from './control.js';

const data = workerData as MiningWorkerData;
const control = new Int32Array(data.control);
const startedAt = new Float64Array(data.control, WORKER_STARTED_AT_BYTE, MAX_WORKERS);
const variant: KernelVariant = data.variant ?? bestVariant();

let slot = -1;
let lastGeneration = -1;
let scanner: NonceScanner | undefined;
let scannerHeader: Uint8Array | undefined;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Records that this worker started hashing `generation` (read by the pool's `workerActivity`). */
function markStarted(generation: number): void {
  if (generation === lastGeneration) return;
  lastGeneration = generation;
  if (slot < 0) slot = Atomics.add(control, CONTROL.NEXT_SLOT, 1);
  if (slot >= MAX_WORKERS) return;
  startedAt[slot] = nowMs();
  Atomics.store(control, CONTROL.WORKER_GENERATION + slot, generation);
}

/** Hashes one task; see {@link MiningTask} and {@link MiningTaskResult}. */
export default function mine(task: MiningTask): MiningTaskResult {
  const t0 = performance.now();
  let hashes = 0;
  if (Atomics.load(control, CONTROL.GENERATION) !== task.generation) {
    return { nonce: undefined, hashes, elapsedMs: 0, cancelled: true, variant };
  }
  markStarted(task.generation);
  // A job's precomputation is reused while the header and target stay the same.
  if (!scanner || scanner.target !== task.target || !scannerHeader || !sameBytes(scannerHeader, task.header)) {
    scanner = new NonceScanner(task.header, task.target, variant);
    scannerHeader = task.header;
  }
  while (hashes < task.count) {
    if (Atomics.load(control, CONTROL.GENERATION) !== task.generation) {
      return { nonce: undefined, hashes, elapsedMs: performance.now() - t0, cancelled: true, variant };
    }
    const r = scanner.scan(task.startNonce + hashes, Math.min(POLL_NONCES, task.count - hashes));
    hashes += r.hashes;
    if (r.nonce !== undefined) return { nonce: r.nonce, hashes, elapsedMs: performance.now() - t0, cancelled: false, variant };
  }
  return { nonce: undefined, hashes, elapsedMs: performance.now() - t0, cancelled: false, variant };
}
