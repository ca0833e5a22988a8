/**
 * `cheesechain bench mining` / `npm run bench:mining`: one run that measures
 * SHA-256d header hashing on this machine — the naive library loops, each
 * kernel variant, the pool with 1..N workers, the native limit from OpenSSL,
 * and how fast a new template reaches every worker — and prints a table
 * (or, with `json`, one JSON object on stdout).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { availableParallelism, arch, cpus, loadavg, platform } from 'node:os';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { promisify } from 'node:util';
import { sha256 } from '@noble/hashes/sha2.js';
import cliProgress from 'cli-progress';
import { NonceScanner, availableVariants, kernelChoice, type KernelVariant } from './kernel.js';
import { MiningPool, type ChunkReport } from './pool.js';
import { NONCE_OFFSET, TIME_OFFSET } from './sha256-job.js';

/** Default total duration of a run, seconds. */
export const DEFAULT_BENCH_SECONDS = 45;
/** Smallest accepted `seconds` (each phase needs a warm-up and a measurement). */
export const MIN_BENCH_SECONDS = 5;
/** Bytes SHA-256 compresses per header hash with a midstate: two 64-byte blocks. */
export const BYTES_PER_MIDSTATE_HASH = 128;
/** Arguments of the OpenSSL measurement (16 KB blocks: the bulk speed of its SHA-256). */
export const OPENSSL_ARGS = ['speed', '-bytes', '16384', '-seconds', '2', 'sha256'] as const;
/** Trials of the cancellation-latency measurement. */
export const LATENCY_TRIALS = 10;
/** Target of the cancellation latency: a new tip must reach every worker within one nonce chunk, ms. */
export const LATENCY_TARGET_MS = 100;
/** Share of each measurement spent warming up (JIT, thread start, chunk sizing) before counting. */
const WARMUP_SHARE = 0.2;
/** Longest a single-thread measurement runs before yielding to the event loop (progress display), ms. */
const SLICE_MS = 50;

/** Options of {@link runMiningBench}. */
export interface MiningBenchOptions {
  /** Print one JSON object on stdout instead of the table. @default false */
  json?: boolean;
  /** Approximate total duration, seconds (≥ 5). @default {@link DEFAULT_BENCH_SECONDS} */
  seconds?: number;
  /** Largest pool measured. @default os.availableParallelism() */
  maxWorkers?: number;
  /** Where the table or JSON goes. @default process.stdout */
  output?: { write(text: string): unknown };
}

/** A hashing method measured on one thread. */
export interface KernelMeasurement {
  /** `noble` (sha256(sha256(header)) with @noble/hashes), `node-crypto` (createHash twice), or a kernel variant (`ts`, `wasm-simd`, `native-sha-ni`). */
  name: string;
  /** Header hashes per second on one thread (wall clock). */
  hashesPerSecond: number;
  /** Header hashes per second of CPU time the process got: the rate on an otherwise idle core. */
  hashesPerCpuSecond: number;
}

/** The pool with `workers` threads. */
export interface PoolMeasurement {
  workers: number;
  /** Header hashes per second of the whole pool (wall clock). */
  hashesPerSecond: number;
  /** Average number of cores the process actually got while measuring (≤ workers on a busy machine). */
  coresUsed: number;
  /** Header hashes per second of CPU time received: what each worker does on a core of its own. */
  hashesPerCpuSecond: number;
}

/** What {@link runMiningBench} measured (also the `--json` output). */
export interface MiningBenchResult {
  /** `loadAverage`: the 1-minute load average when the run started (other work competing for the cores). */
  machine: { cpu: string; cores: number; node: string; platform: string; arch: string; loadAverage: number };
  /** Kernel variant the pool uses by default here. */
  defaultVariant: KernelVariant;
  /** Why that variant and not a faster one (e.g. the CPU lacks the SHA extensions). */
  defaultVariantReason: string;
  kernels: KernelMeasurement[];
  /**
   * Native SHA-256 from `openssl speed`, or null when openssl is not on PATH.
   * `openssl speed` divides by the CPU user time it received (not wall time),
   * so it is a rate per CPU second.
   */
  nativeLimit: { source: string; bytesPerSecond: number; hashesPerSecond: number } | null;
  pool: PoolMeasurement[];
  /**
   * Ratios: each kernel over the noble loop, the best kernel over the native
   * limit (both per CPU second, as `openssl speed` measures, so other load on
   * the machine cancels out; `bestKernelOverNativeWall` uses the kernel's
   * wall-clock rate instead), each pool over one worker.
   */
  ratios: {
    kernelOverNoble: Record<string, number>;
    bestKernelOverNative: number | null;
    bestKernelOverNativeWall: number | null;
    poolScaling: Record<string, number>;
  };
  /** Abort + new work until every worker hashes the new template, ms. */
  cancellation: { trials: number; medianMs: number; maxMs: number; targetMs: number };
  durationMs: number;
}

/** An option of {@link runMiningBench} is invalid. */
export class MiningBenchOptionError extends TypeError {
  override readonly name = 'MiningBenchOptionError';
  readonly code = 'ERR_MINING_BENCH_OPTION';
}

/** A header template: fixed bytes, a time, and a bits field. */
function benchHeader(seed: number): Uint8Array {
  const h = new Uint8Array(80);
  for (let i = 0; i < 68; i++) h[i] = (seed * 97 + i * 31) & 0xff;
  const v = new DataView(h.buffer);
  v.setUint32(TIME_OFFSET, Math.floor(Date.now() / 1000), true);
  v.setUint32(72, 0x1d00ffff, true);
  return h;
}

/** Progress on stderr, so that `--json` keeps stdout clean. Silent when stderr is not a terminal. */
class Progress {
  private readonly bar = new cliProgress.SingleBar(
    { format: 'bench mining |{bar}| {percentage}% | {phase}', stream: process.stderr, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  private done = 0;
  constructor(private readonly totalMs: number) {
    this.bar.start(Math.round(totalMs), 0, { phase: 'starting' });
  }
  phase(name: string): void {
    this.bar.update(Math.round(this.done), { phase: name });
  }
  advance(ms: number): void {
    this.done = Math.min(this.totalMs, this.done + ms);
    this.bar.update(Math.round(this.done));
  }
  stop(): void {
    this.bar.stop();
  }
}

/**
 * Runs `step` (which hashes some nonces and returns how many) for `ms`,
 * counting only after the warm-up share; yields to the event loop every
 * {@link SLICE_MS} so the progress display moves.
 */
async function measureLoop(ms: number, progress: Progress, step: () => number): Promise<{ wall: number; cpu: number }> {
  const warmupEnd = performance.now() + ms * WARMUP_SHARE;
  const end = performance.now() + ms;
  let hashes = 0;
  let countingFrom = 0;
  let cpuFrom = process.cpuUsage();
  let last = performance.now();
  for (;;) {
    const sliceEnd = Math.min(performance.now() + SLICE_MS, end);
    let now: number;
    do {
      const n = step();
      now = performance.now();
      if (countingFrom > 0) hashes += n;
      else if (now >= warmupEnd) {
        countingFrom = now;
        cpuFrom = process.cpuUsage();
      }
    } while (now < sliceEnd);
    progress.advance(now - last);
    last = now;
    // On a loaded machine one step may outlast the budget: run on until at least one step is counted.
    if (now >= end && hashes > 0) break;
    await yieldToLoop();
  }
  const cpu = process.cpuUsage(cpuFrom);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  return { wall: (hashes * 1000) / (performance.now() - countingFrom), cpu: cpuMs > 0 ? (hashes * 1000) / cpuMs : 0 };
}

function nobleStep(header: Uint8Array): () => number {
  const view = new DataView(header.buffer);
  let nonce = 0;
  return () => {
    for (let i = 0; i < 1_000; i++) {
      view.setUint32(NONCE_OFFSET, nonce++, true);
      sha256(sha256(header));
    }
    return 1_000;
  };
}

function nodeCryptoStep(header: Uint8Array): () => number {
  const view = new DataView(header.buffer);
  let nonce = 0;
  return () => {
    for (let i = 0; i < 1_000; i++) {
      view.setUint32(NONCE_OFFSET, nonce++, true);
      createHash('sha256').update(createHash('sha256').update(header).digest()).digest();
    }
    return 1_000;
  };
}

function kernelStep(header: Uint8Array, variant: KernelVariant): () => number {
  // Target 0: nothing is ever found, every nonce is hashed.
  const scanner = new NonceScanner(header, 0n, variant);
  const batch = variant === 'ts' ? 4_096 : variant === 'wasm-simd' ? 16_384 : 65_536;
  let nonce = 0;
  return () => {
    scanner.scan(nonce, batch);
    nonce = (nonce + batch) % (2 ** 32 - batch);
    return batch;
  };
}

/** Runs `openssl speed` and derives header hashes per second; null when openssl is unavailable. */
async function measureOpenssl(): Promise<MiningBenchResult['nativeLimit']> {
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)('openssl', [...OPENSSL_ARGS], { timeout: 30_000 }));
  } catch {
    return null;
  }
  // Last line: "sha256  1677721.60k" — thousands of bytes per second.
  const line = stdout.split('\n').find((l) => /^sha256\s+[\d.]+k\s*$/.test(l.trim()));
  const match = line?.trim().match(/([\d.]+)k$/);
  if (!match) return null;
  const bytesPerSecond = Number(match[1]) * 1000;
  return { source: `openssl ${OPENSSL_ARGS.join(' ')}`, bytesPerSecond, hashesPerSecond: bytesPerSecond / BYTES_PER_MIDSTATE_HASH };
}

/** Resolves when every worker of `pool` has started hashing `generation`. */
async function allWorkersOn(pool: MiningPool, generation: number): Promise<void> {
  for (;;) {
    const activity = pool.workerActivity();
    if (activity.length >= pool.workers && activity.every((a) => a.generation === generation)) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Hashes of `chunks` inside [from, to], counting a range that straddles a bound in proportion to its overlap. */
function hashesWithin(chunks: ChunkReport[], from: number, to: number): number {
  let hashes = 0;
  for (const c of chunks) {
    const span = c.finishedAt - c.startedAt;
    const overlap = Math.min(c.finishedAt, to) - Math.max(c.startedAt, from);
    if (overlap <= 0 || span <= 0) continue;
    hashes += c.hashes * Math.min(1, overlap / span);
  }
  return hashes;
}

/** Pool throughput with `workers` threads over `ms` (after thread start and a warm-up). */
async function measurePool(workers: number, ms: number, progress: Progress): Promise<PoolMeasurement> {
  const chunks: ChunkReport[] = [];
  const pool = new MiningPool({ workers, onChunk: (c) => chunks.push(c) });
  try {
    const abort = new AbortController();
    const mining = pool.mine({ header: benchHeader(workers), target: 0n }, abort.signal);
    await allWorkersOn(pool, pool.generation);
    await sleep(ms * WARMUP_SHARE);
    progress.advance(ms * WARMUP_SHARE);
    const from = performance.now();
    const cpuFrom = process.cpuUsage();
    const steps = Math.max(1, Math.round((ms * (1 - WARMUP_SHARE)) / 250));
    for (let i = 0; i < steps; i++) {
      await sleep((ms * (1 - WARMUP_SHARE)) / steps);
      progress.advance((ms * (1 - WARMUP_SHARE)) / steps);
    }
    const to = performance.now();
    const cpu = process.cpuUsage(cpuFrom);
    abort.abort();
    await mining;
    await pool.whenIdle();
    const hashes = hashesWithin(chunks, from, to);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    return {
      workers,
      hashesPerSecond: (hashes * 1000) / (to - from),
      coresUsed: cpuMs / (to - from),
      hashesPerCpuSecond: cpuMs > 0 ? (hashes * 1000) / cpuMs : 0,
    };
  } finally {
    await pool.close();
  }
}

/** Abort + new work until every worker hashes the new template, per trial, ms. */
async function measureCancellation(workers: number, trials: number, progress: Progress): Promise<number[]> {
  const pool = new MiningPool({ workers });
  const latencies: number[] = [];
  try {
    let abort = new AbortController();
    let mining = pool.mine({ header: benchHeader(1_000), target: 0n }, abort.signal);
    await allWorkersOn(pool, pool.generation);
    for (let i = 0; i < trials; i++) {
      // Let the workers get deep into a chunk, as when a new tip arrives.
      await sleep(150);
      const t0 = performance.timeOrigin + performance.now();
      abort.abort();
      abort = new AbortController();
      const next = pool.mine({ header: benchHeader(1_001 + i), target: 0n }, abort.signal);
      await mining;
      mining = next;
      const generation = pool.generation;
      await allWorkersOn(pool, generation);
      latencies.push(Math.max(...pool.workerActivity().map((a) => a.startedAt)) - t0);
      progress.advance(150);
    }
    abort.abort();
    await mining;
  } finally {
    await pool.close();
  }
  return latencies;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const mhs = (h: number): string => (h / 1e6).toFixed(2);

/** The human-readable table of a result, as `runMiningBench` prints it without `json`. */
export function formatMiningBench(r: MiningBenchResult): string {
  const noble = r.kernels.find((k) => k.name === 'noble')!.hashesPerSecond;
  const lines: string[] = [];
  lines.push('cheesechain mining benchmark: SHA-256d of 80-byte headers');
  lines.push(`CPU ${r.machine.cpu}, ${r.machine.cores} cores available, Node ${r.machine.node} (${r.machine.platform}-${r.machine.arch})`);
  lines.push(`pool kernel: ${r.defaultVariant} (${r.defaultVariantReason})`);
  lines.push(`load average at start ${r.machine.loadAverage.toFixed(2)} (other work on the machine lowers the wall-clock rates; "MH/s per CPU s" is the rate per second of CPU actually received)`);
  lines.push('');
  lines.push(`${'method (one thread)'.padEnd(34)}${'MH/s'.padStart(8)}${'× noble'.padStart(10)}${'MH/s per CPU s'.padStart(17)}`);
  const label: Record<string, string> = {
    noble: '@noble/hashes sha256(sha256(h))',
    'node-crypto': 'node:crypto createHash ×2',
    ts: 'kernel ts (midstate, TypeScript)',
    'wasm-simd': 'kernel wasm-simd (4 lanes)',
    'native-sha-ni': 'kernel native-sha-ni (4 interleaved)',
  };
  for (const k of r.kernels) {
    lines.push(
      `${(label[k.name] ?? k.name).padEnd(34)}${mhs(k.hashesPerSecond).padStart(8)}${(k.hashesPerSecond / noble).toFixed(1).padStart(10)}` +
        `${mhs(k.hashesPerCpuSecond).padStart(17)}`,
    );
  }
  if (r.nativeLimit) {
    lines.push(
      `${'native limit (openssl ÷ 128 B)'.padEnd(34)}${mhs(r.nativeLimit.hashesPerSecond).padStart(8)}${(r.nativeLimit.hashesPerSecond / noble).toFixed(1).padStart(10)}` +
        `   (${(r.nativeLimit.bytesPerSecond / 1e9).toFixed(2)} GB/s)`,
    );
  } else {
    lines.push('native limit: openssl not on PATH, skipped');
  }
  if (r.ratios.bestKernelOverNative !== null) {
    lines.push(
      `best kernel / native limit: ${r.ratios.bestKernelOverNative.toFixed(2)}× per CPU second (openssl speed counts CPU time), ` +
        `${r.ratios.bestKernelOverNativeWall!.toFixed(2)}× on the wall clock`,
    );
  }
  lines.push('');
  lines.push(`${'pool'.padEnd(34)}${'MH/s'.padStart(8)}${'per worker'.padStart(12)}${'scaling'.padStart(10)}${'cores used'.padStart(12)}${'MH/s per CPU s'.padStart(17)}`);
  for (const p of r.pool) {
    lines.push(
      `${`${p.workers} worker${p.workers > 1 ? 's' : ''}`.padEnd(34)}${mhs(p.hashesPerSecond).padStart(8)}` +
        `${mhs(p.hashesPerSecond / p.workers).padStart(12)}${`${r.ratios.poolScaling[String(p.workers)]!.toFixed(2)}×`.padStart(10)}` +
        `${p.coresUsed.toFixed(2).padStart(12)}${mhs(p.hashesPerCpuSecond).padStart(17)}`,
    );
  }
  lines.push('');
  const c = r.cancellation;
  lines.push(
    `cancellation (abort + new work until every worker hashes it): median ${c.medianMs.toFixed(1)} ms, ` +
      `max ${c.maxMs.toFixed(1)} ms over ${c.trials} trials (target < ${c.targetMs} ms)`,
  );
  lines.push(`total ${(r.durationMs / 1000).toFixed(1)} s`);
  return lines.join('\n');
}

/**
 * Runs the mining benchmark and prints its table (or one JSON object with
 * `json`) on stdout; a progress bar goes to stderr. Takes about `seconds`.
 * @returns the measurements.
 * @throws MiningBenchOptionError on invalid options.
 */
export async function runMiningBench(options: MiningBenchOptions = {}): Promise<MiningBenchResult> {
  const seconds = options.seconds ?? DEFAULT_BENCH_SECONDS;
  if (!Number.isFinite(seconds) || seconds < MIN_BENCH_SECONDS) {
    throw new MiningBenchOptionError(`options.seconds must be a number ≥ ${MIN_BENCH_SECONDS}`);
  }
  const maxWorkers = options.maxWorkers ?? availableParallelism();
  if (!Number.isInteger(maxWorkers) || maxWorkers < 1) throw new MiningBenchOptionError('options.maxWorkers must be a positive integer');

  const started = performance.now();
  const loadAverage = loadavg()[0]!;
  const variants = availableVariants();
  // Budget: weights of each phase in the total duration.
  const opensslMs = 2_500;
  const latencyMs = LATENCY_TRIALS * 150 + 500;
  const measuredMs = Math.max(1_000, seconds * 1000 - opensslMs - latencyMs - maxWorkers * 300);
  const weights = { baseline: 1, kernel: 1.5, pool: 2 };
  const unit = measuredMs / (2 * weights.baseline + variants.length * weights.kernel + maxWorkers * weights.pool);
  const progress = new Progress(measuredMs + opensslMs + latencyMs);

  try {
    const kernels: KernelMeasurement[] = [];
    progress.phase('@noble/hashes loop');
    const measured = async (name: string, ms: number, step: () => number): Promise<void> => {
      const { wall, cpu } = await measureLoop(ms, progress, step);
      kernels.push({ name, hashesPerSecond: wall, hashesPerCpuSecond: cpu });
    };
    await measured('noble', unit * weights.baseline, nobleStep(benchHeader(1)));
    progress.phase('node:crypto loop');
    await measured('node-crypto', unit * weights.baseline, nodeCryptoStep(benchHeader(2)));
    for (const variant of [...variants].reverse()) {
      progress.phase(`kernel ${variant}`);
      await measured(variant, unit * weights.kernel, kernelStep(benchHeader(3), variant));
    }

    progress.phase('openssl speed sha256');
    const nativeLimit = await measureOpenssl();
    progress.advance(opensslMs);

    const pool: PoolMeasurement[] = [];
    for (let workers = 1; workers <= maxWorkers; workers++) {
      progress.phase(`pool, ${workers} worker${workers > 1 ? 's' : ''}`);
      pool.push(await measurePool(workers, unit * weights.pool, progress));
    }

    progress.phase('cancellation latency');
    const latencies = await measureCancellation(maxWorkers, LATENCY_TRIALS, progress);

    const noble = kernels[0]!.hashesPerSecond;
    const ours = kernels.filter((k) => (variants as string[]).includes(k.name));
    const best = Math.max(...ours.map((k) => k.hashesPerCpuSecond));
    const bestWall = Math.max(...ours.map((k) => k.hashesPerSecond));
    const choice = kernelChoice();
    const cpuList = cpus();
    const result: MiningBenchResult = {
      machine: { cpu: cpuList[0]?.model ?? 'unknown', cores: availableParallelism(), node: process.version, platform: platform(), arch: arch(), loadAverage },
      defaultVariant: choice.variant,
      defaultVariantReason: choice.reason,
      kernels,
      nativeLimit,
      pool,
      ratios: {
        kernelOverNoble: Object.fromEntries(kernels.map((k) => [k.name, k.hashesPerSecond / noble])),
        bestKernelOverNative: nativeLimit ? best / nativeLimit.hashesPerSecond : null,
        bestKernelOverNativeWall: nativeLimit ? bestWall / nativeLimit.hashesPerSecond : null,
        poolScaling: Object.fromEntries(pool.map((p) => [String(p.workers), p.hashesPerSecond / pool[0]!.hashesPerSecond])),
      },
      cancellation: { trials: latencies.length, medianMs: median(latencies), maxMs: Math.max(...latencies), targetMs: LATENCY_TARGET_MS },
      durationMs: performance.now() - started,
    };
    progress.stop();
    (options.output ?? process.stdout).write(options.json ? `${JSON.stringify(result)}\n` : `${formatMiningBench(result)}\n`);
    return result;
  } finally {
    progress.stop();
  }
}
