/**
 * The mining kernel: searches a range of nonces of an 80-byte header
 * template for a SHA-256d hash at or below a target (Bitcoin's proof of work,
 * the hash read as a little-endian 256-bit integer).
 *
 * Three variants compute the same thing: `native-sha-ni` (C through
 * Node-API with the x86 SHA extensions, four nonces interleaved, built from
 * `native/` by node-gyp), `wasm-simd` (WebAssembly, four nonces per 128-bit
 * vector, built from `assembly/mining.ts`) and `ts` (portable TypeScript).
 * All use the job precomputation of `sha256-job.ts` and reject
 * on digest word 7 (the hash's top 32 bits) first; each candidate that
 * survives is confirmed with the reference SHA-256d of the core
 * (`src/core/hash.ts`) before it is reported, so a reported nonce always
 * passes `checkProofOfWork`.
 */
import { sha256d } from '../core/hash.js';
import { hashMeetsTarget } from '../core/pow.js';
import { NativeKernel, nativeUnavailable, type NativeUnavailable } from './kernel-native.js';
import { NO_CANDIDATE, digestTs, scanTs } from './kernel-ts.js';
import { WasmKernel, wasmUnavailable, type WasmUnavailable } from './kernel-wasm.js';
import { HEADER_BYTES, NONCE_OFFSET, NONCE_SPACE, prepareJob } from './sha256-job.js';

/** The kernel variants, fastest first. */
export const KERNEL_VARIANTS = ['native-sha-ni', 'wasm-simd', 'ts'] as const;
/** A kernel variant: `native-sha-ni` (C with the x86 SHA extensions), `wasm-simd` (WebAssembly 128-bit SIMD) or `ts` (pure TypeScript). */
export type KernelVariant = (typeof KERNEL_VARIANTS)[number];

/** Most nonces handed to one low-level scan call (keeps 32-bit loop counters far from overflow). */
export const SCAN_CALL_NONCES = 1 << 20;

/** Outcome of a scan: the first nonce of the range that meets the target, if any, and the nonces tried. */
export interface ScanResult {
  /** The winning nonce (0 … 2^32−1), or undefined when the range is exhausted. */
  nonce: number | undefined;
  /** Nonces hashed: up to and including the winner, or the whole range. */
  hashes: number;
}

/** A kernel variant is not available in this process (see {@link availableVariants}). */
export class KernelUnavailableError extends Error {
  override readonly name = 'KernelUnavailableError';
  readonly code = 'ERR_KERNEL_UNAVAILABLE';
  constructor(
    readonly variant: KernelVariant,
    readonly detail: WasmUnavailable | NativeUnavailable,
  ) {
    super(`mining kernel ${variant} is unavailable: ${variant === 'native-sha-ni' ? describeNative(detail as NativeUnavailable) : describeWasm(detail as WasmUnavailable)}`);
  }
}

/** A nonce range or header given to the kernel is invalid. */
export class MiningRangeError extends RangeError {
  override readonly name = 'MiningRangeError';
  readonly code = 'ERR_MINING_RANGE';
}

function describeWasm(detail: WasmUnavailable): string {
  switch (detail.reason) {
    case 'missing':
      return `${detail.path} not found (run npm run build)`;
    case 'no-simd':
      return 'WebAssembly 128-bit SIMD is not supported by this runtime';
    case 'failed':
      return `compilation failed: ${String(detail.error)}`;
  }
}

/** Why the native kernel cannot run, in words for logs and the benchmark. */
export function describeNative(detail: NativeUnavailable): string {
  switch (detail.reason) {
    case 'not-x86':
      return `the SHA-NI kernel is for x86-64 only, this is ${detail.arch}`;
    case 'missing':
      return `${detail.path} not found (its build during npm ci failed or was skipped; npm run build:native shows why)`;
    case 'no-sha':
      return 'this CPU lacks the SHA extensions (CPUID leaf 7 EBX bit 29, SSSE3, SSE4.1)';
    case 'failed':
      return `loading the addon failed: ${String(detail.error)}`;
  }
}

/** The low-level interface every variant implements. */
interface Kernel {
  setJob(job: Uint32Array): void;
  /** Index of the first candidate in [start, start + count) (count ≤ SCAN_CALL_NONCES), or −1. */
  scan(start: number, count: number): number;
  /** Full digests of `count` nonces from `start`, 32 bytes each, into `out` at `offset`. */
  digest(start: number, count: number, out: Uint8Array, offset?: number): void;
}

/** The TypeScript kernel behind the {@link Kernel} interface. */
class TsKernel implements Kernel {
  private job: Uint32Array = new Uint32Array(0);
  setJob(job: Uint32Array): void {
    this.job = job;
  }
  scan(start: number, count: number): number {
    return scanTs(this.job, start, count);
  }
  digest(start: number, count: number, out: Uint8Array, offset = 0): void {
    for (let i = 0; i < count; i++) digestTs(this.job, (start + i) >>> 0, out, offset + i * 32);
  }
}

/** The variants usable in this process, fastest first. `ts` is always available. */
export function availableVariants(): KernelVariant[] {
  const out: KernelVariant[] = [];
  if (nativeUnavailable() === undefined) out.push('native-sha-ni');
  if (wasmUnavailable() === undefined) out.push('wasm-simd');
  out.push('ts');
  return out;
}

/** The fastest available variant: `native-sha-ni` where the addon is built and the CPU has the SHA extensions, else `wasm-simd` where WebAssembly SIMD validates, else `ts`. */
export function bestVariant(): KernelVariant {
  return availableVariants()[0]!;
}

/** Which kernel the pool uses by default here, and why (for the start-up log and `bench mining`). */
export interface KernelChoice {
  variant: KernelVariant;
  /** One sentence: why this variant and not a faster one. */
  reason: string;
}

/** The variant {@link bestVariant} picks, with the reason the faster ones are out. */
export function kernelChoice(): KernelChoice {
  const native = nativeUnavailable();
  if (native === undefined) return { variant: 'native-sha-ni', reason: 'the CPU has the SHA extensions and the native addon is built' };
  const wasm = wasmUnavailable();
  const why = `native kernel unavailable: ${describeNative(native)}`;
  if (wasm === undefined) return { variant: 'wasm-simd', reason: why };
  return { variant: 'ts', reason: `${why}; wasm-simd unavailable: ${describeWasm(wasm)}` };
}

function createKernel(variant: KernelVariant): Kernel {
  switch (variant) {
    case 'native-sha-ni': {
      const why = nativeUnavailable();
      if (why) throw new KernelUnavailableError(variant, why);
      return new NativeKernel();
    }
    case 'wasm-simd': {
      const why = wasmUnavailable();
      if (why) throw new KernelUnavailableError(variant, why);
      return new WasmKernel();
    }
    case 'ts':
      return new TsKernel();
  }
}

/** One kernel instance per variant and thread: instances hold scratch memory and are reused. */
const kernels = new Map<KernelVariant, Kernel>();
function kernelFor(variant: KernelVariant): Kernel {
  let k = kernels.get(variant);
  if (!k) kernels.set(variant, (k = createKernel(variant)));
  return k;
}

function checkRange(startNonce: number, count: number): void {
  if (!Number.isInteger(startNonce) || startNonce < 0 || startNonce >= NONCE_SPACE) {
    throw new MiningRangeError(`startNonce must be an integer in [0, 2^32), got ${startNonce}`);
  }
  if (!Number.isInteger(count) || count < 0 || startNonce + count > NONCE_SPACE) {
    throw new MiningRangeError(`count must be a non-negative integer with startNonce + count ≤ 2^32, got ${count}`);
  }
}

/**
 * Searches nonces of one header template and target, reusing the job
 * precomputation across calls (a worker scans a chunk in slices and checks
 * for cancellation between them). Not thread-safe: one per thread.
 */
export class NonceScanner {
  readonly variant: KernelVariant;
  private readonly header: Uint8Array;
  private readonly job: Uint32Array;
  private readonly kernel: Kernel;

  /**
   * @param header 80-byte header template (Bitcoin layout); its nonce field is ignored. Copied.
   * @param target the hash, read little-endian, must be ≤ target; targets ≥ 2^256 accept every hash.
   * @param variant defaults to {@link bestVariant}.
   * @throws MiningRangeError when the header is not 80 bytes or the target is negative.
   * @throws KernelUnavailableError when `variant` cannot run here.
   */
  constructor(
    header: Uint8Array,
    readonly target: bigint,
    variant: KernelVariant = bestVariant(),
  ) {
    if (header.length !== HEADER_BYTES) throw new MiningRangeError(`header must be ${HEADER_BYTES} bytes, got ${header.length}`);
    if (target < 0n) throw new MiningRangeError('target must be non-negative');
    this.variant = variant;
    this.header = header.slice();
    this.job = prepareJob(this.header, target);
    this.kernel = kernelFor(variant);
  }

  /**
   * Scans nonces `startNonce … startNonce + count − 1` in increasing order.
   * @throws MiningRangeError when the range leaves [0, 2^32).
   */
  scan(startNonce: number, count: number): ScanResult {
    checkRange(startNonce, count);
    const kernel = this.kernel;
    kernel.setJob(this.job);
    const view = new DataView(this.header.buffer, this.header.byteOffset, HEADER_BYTES);
    let pos = 0;
    while (pos < count) {
      const n = Math.min(count - pos, SCAN_CALL_NONCES);
      const hit = kernel.scan(startNonce + pos, n);
      if (hit === NO_CANDIDATE) {
        pos += n;
        continue;
      }
      const nonce = startNonce + pos + hit;
      // Confirm with the reference hash: the top word may equal the target's and the rest be larger.
      view.setUint32(NONCE_OFFSET, nonce, true);
      if (hashMeetsTarget(sha256d(this.header), this.target)) return { nonce, hashes: pos + hit + 1 };
      pos += hit + 1;
    }
    return { nonce: undefined, hashes: count };
  }
}

/**
 * Searches nonces `startNonce … startNonce + count − 1` of `header` for the
 * first whose SHA-256d, read as a little-endian integer, is ≤ `target`.
 * Pure apart from per-thread scratch memory.
 * @throws MiningRangeError on a header that is not 80 bytes, a negative target or a range outside [0, 2^32).
 * @throws KernelUnavailableError when `variant` cannot run here.
 */
export function scanNonces(
  header: Uint8Array,
  target: bigint,
  startNonce: number,
  count: number,
  variant?: KernelVariant,
): ScanResult {
  return new NonceScanner(header, target, variant).scan(startNonce, count);
}

/**
 * Debug export for differential tests: the full SHA-256d digests computed by
 * a variant's own rounds (32 bytes per nonce, internal byte order,
 * concatenated) for nonces `startNonce … startNonce + count − 1`.
 * @throws MiningRangeError, KernelUnavailableError as {@link scanNonces}.
 */
export function digestNonces(header: Uint8Array, startNonce: number, count: number, variant: KernelVariant = bestVariant()): Uint8Array {
  if (header.length !== HEADER_BYTES) throw new MiningRangeError(`header must be ${HEADER_BYTES} bytes, got ${header.length}`);
  checkRange(startNonce, count);
  const kernel = kernelFor(variant);
  kernel.setJob(prepareJob(header, 0n));
  const out = new Uint8Array(count * 32);
  kernel.digest(startNonce, count, out);
  return out;
}
