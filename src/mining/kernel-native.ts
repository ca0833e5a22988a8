/**
 * Loader of the native mining kernel: C through Node-API
 * (`native/mining-addon.c`, `native/sha256d-shani.c`), built from source by
 * `scripts/build-native.mjs` during `npm ci` and by `npm run build` when
 * missing, into `build/Release/cheesechain_mining.node`. It hashes with the
 * x86 SHA extensions (SHA-NI); the addon asks CPUID itself and refuses to
 * hash where they are missing, so loading it is safe on any x86-64 CPU.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { JOB } from './sha256-job.js';

/** Where node-gyp puts the addon, relative to this module (`dist/src/mining/`). */
export const NATIVE_KERNEL_URL = new URL('../../../build/Release/cheesechain_mining.node', import.meta.url);

/** The exports of `native/mining-addon.c`. */
interface AddonExports {
  /** CPUID reports SHA, SSSE3 and SSE4.1. */
  shaExtensions: boolean;
  /** Nonces hashed side by side per loop iteration. */
  lanes: number;
  /** Index of the first candidate in [start, start + count), or −1. */
  scan(job: Uint32Array, start: number, count: number): number;
  /** Full digests of `count` nonces from `start`, 32 bytes each, into `out`. */
  digest(job: Uint32Array, start: number, count: number, out: Uint8Array): void;
}

/** Why the native kernel cannot be used here, or undefined when it can. */
export type NativeUnavailable =
  | { reason: 'not-x86'; arch: string }
  | { reason: 'missing'; path: string }
  | { reason: 'no-sha'; path: string }
  | { reason: 'failed'; error: unknown };

const cache = new Map<string, AddonExports | NativeUnavailable>();

/**
 * Loads the addon at `path` once per thread. The SHA-NI kernel exists for
 * x86-64 only; elsewhere (and where the build failed) the caller falls back.
 */
function loadAddon(path: string): AddonExports | NativeUnavailable {
  const cached = cache.get(path);
  if (cached) return cached;
  let result: AddonExports | NativeUnavailable;
  if (process.arch !== 'x64') result = { reason: 'not-x86', arch: process.arch };
  else if (!existsSync(path)) result = { reason: 'missing', path };
  else {
    try {
      const addon = createRequire(import.meta.url)(path) as AddonExports;
      result = addon.shaExtensions ? addon : { reason: 'no-sha', path };
    } catch (error) {
      result = { reason: 'failed', error };
    }
  }
  cache.set(path, result);
  return result;
}

function isUnavailable(m: AddonExports | NativeUnavailable): m is NativeUnavailable {
  return 'reason' in m;
}

/**
 * Undefined when the native kernel can run in this process, else why not.
 * @param path the addon file; defaults to {@link NATIVE_KERNEL_URL} (other paths are for tests).
 */
export function nativeUnavailable(path: string = fileURLToPath(NATIVE_KERNEL_URL)): NativeUnavailable | undefined {
  const m = loadAddon(path);
  return isUnavailable(m) ? m : undefined;
}

/** The native kernel behind the kernel interface of `kernel.ts`. Holds no scratch memory; one per thread. */
export class NativeKernel {
  private readonly addon: AddonExports;
  private job: Uint32Array = new Uint32Array(JOB.SIZE);
  /** Nonces the C loop hashes side by side. */
  readonly lanes: number;

  /** @throws Error when the addon is unavailable (see {@link nativeUnavailable}). */
  constructor() {
    const m = loadAddon(fileURLToPath(NATIVE_KERNEL_URL));
    if (isUnavailable(m)) throw new Error(`native mining kernel unavailable: ${m.reason}`);
    this.addon = m;
    this.lanes = m.lanes;
  }

  /** Uses a job prepared by `prepareJob` (kept by reference: jobs are never mutated). */
  setJob(job: Uint32Array): void {
    this.job = job;
  }

  /** Index of the first candidate of [start, start + count), or −1. */
  scan(start: number, count: number): number {
    return this.addon.scan(this.job, start >>> 0, count >>> 0);
  }

  /** Full digests of `count` nonces from `start` into `out` at `offset` (32 bytes each, internal order). */
  digest(start: number, count: number, out: Uint8Array, offset = 0): void {
    this.addon.digest(this.job, start >>> 0, count >>> 0, out.subarray(offset, offset + count * 32));
  }
}
