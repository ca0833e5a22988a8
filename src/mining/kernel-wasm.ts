/**
 * Loader of the WebAssembly SIMD mining kernel built from
 * `assembly/mining.ts` by `npm run build:wasm` into `dist/wasm/`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { JOB } from './sha256-job.js';

/** Where the build puts the kernel, relative to this module (`dist/src/mining/`). */
export const WASM_KERNEL_URL = new URL('../../wasm/mining-simd.wasm', import.meta.url);

/**
 * The part of the WebAssembly JS API used here. The project compiles with
 * `lib: ES2022` and no DOM types, and @types/node 20 does not declare the
 * global, so it is declared locally.
 */
interface WasmModule {
  readonly __brand: 'WebAssembly.Module';
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => { exports: unknown };
}
declare const WebAssembly: WasmApi;

/** The exports of `assembly/mining.ts`. */
interface KernelExports {
  memory: { buffer: ArrayBuffer };
  jobPtr(): number;
  outPtr(): number;
  digestBatch(): number;
  scan(start: number, count: number): number;
  digest(start: number, count: number): void;
}

/** Why the WebAssembly kernel cannot be used here, or undefined when it can. */
export type WasmUnavailable = { reason: 'missing'; path: string } | { reason: 'no-simd' } | { reason: 'failed'; error: unknown };

let cachedModule: WasmModule | WasmUnavailable | undefined;

/**
 * Compiles the kernel once per thread (synchronously: the module is ~25 KB).
 * `WebAssembly.validate` rejects it where 128-bit SIMD is unsupported.
 */
function loadModule(): WasmModule | WasmUnavailable {
  if (cachedModule !== undefined) return cachedModule;
  const path = fileURLToPath(WASM_KERNEL_URL);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch {
    return (cachedModule = { reason: 'missing', path });
  }
  if (!WebAssembly.validate(bytes)) return (cachedModule = { reason: 'no-simd' });
  try {
    return (cachedModule = new WebAssembly.Module(bytes));
  } catch (error) {
    return (cachedModule = { reason: 'failed', error });
  }
}

function isUnavailable(m: WasmModule | WasmUnavailable): m is WasmUnavailable {
  return 'reason' in m;
}

/** Undefined when the SIMD kernel can run in this process, else why not. */
export function wasmUnavailable(): WasmUnavailable | undefined {
  const m = loadModule();
  return isUnavailable(m) ? m : undefined;
}

/**
 * One instance of the SIMD kernel (its own linear memory). Not thread-safe;
 * each worker thread makes its own.
 */
export class WasmKernel {
  private readonly exports: KernelExports;
  private readonly job: Uint32Array;
  private readonly out: Uint8Array;
  /** Most digests one `digest` call writes. */
  readonly digestBatch: number;

  /** @throws Error when the module is missing or SIMD is unavailable (see {@link wasmUnavailable}). */
  constructor() {
    const m = loadModule();
    if (isUnavailable(m)) throw new Error(`WebAssembly SIMD kernel unavailable: ${m.reason}`);
    const instance = new WebAssembly.Instance(m, {
      env: {
        abort: () => {
          throw new Error('mining kernel aborted');
        },
      },
    });
    this.exports = instance.exports as unknown as KernelExports;
    // The kernel never allocates, so its memory never grows and these views stay valid.
    this.job = new Uint32Array(this.exports.memory.buffer, this.exports.jobPtr(), JOB.SIZE);
    this.digestBatch = this.exports.digestBatch();
    this.out = new Uint8Array(this.exports.memory.buffer, this.exports.outPtr(), this.digestBatch * 32);
  }

  /** Loads a job prepared by `prepareJob`. */
  setJob(job: Uint32Array): void {
    this.job.set(job);
  }

  /** See `scan` in `assembly/mining.ts`: index of the first candidate of the range, or −1. */
  scan(start: number, count: number): number {
    return this.exports.scan(start >>> 0, count >>> 0);
  }

  /** Full digests of `count` nonces from `start` into `out` at `offset` (32 bytes each, internal order). */
  digest(start: number, count: number, out: Uint8Array, offset = 0): void {
    for (let done = 0; done < count; ) {
      const n = Math.min(this.digestBatch, count - done);
      this.exports.digest((start + done) >>> 0, n);
      out.set(this.out.subarray(0, n * 32), offset + done * 32);
      done += n;
    }
  }
}
