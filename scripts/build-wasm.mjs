#!/usr/bin/env node
/**
 * Builds the WebAssembly mining kernel from AssemblyScript source:
 * assembly/mining.ts → dist/wasm/mining-simd.wasm (128-bit SIMD, -O3).
 * Run by `npm run build:wasm` (and so by `npm run build`). The output is a
 * build artefact under dist/, never committed.
 */
import asc from 'assemblyscript/asc';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outFile = join(root, 'dist', 'wasm', 'mining-simd.wasm');
mkdirSync(dirname(outFile), { recursive: true });

const { error, stderr } = await asc.main([
  join(root, 'assembly', 'mining.ts'),
  '--outFile', outFile,
  '--optimizeLevel', '3',
  '--shrinkLevel', '0',
  '--noAssert',
  '--runtime', 'stub',
  '--enable', 'simd',
]);
if (error) {
  process.stderr.write(stderr.toString());
  process.stderr.write(`build-wasm: ${error.message}\n`);
  process.exit(1);
}
process.stdout.write(`build-wasm: ${outFile}\n`);
