#!/usr/bin/env node
/**
 * Builds the native mining kernel (native/*.c, binding.gyp) into
 * build/Release/cheesechain_mining.node with node-gyp, offline: the headers
 * come from the installed Node (<prefix>/include/node, e.g. /usr/include/node),
 * never from a download.
 *
 * Run as the package's `install` script (so by `npm ci` / `npm install`) and
 * by `npm run build:native` (part of `npm run build`), which with
 * `--if-stale` does nothing when the addon is newer than its sources.
 *
 * A failed or impossible build is not an error: the mining kernel falls back
 * to WebAssembly SIMD (src/mining/kernel.ts says why at start-up), so this
 * script prints one line saying why and exits 0. Build output stays under
 * build/, which is never committed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const addon = join(root, 'build', 'Release', 'cheesechain_mining.node');
const sources = [join(root, 'binding.gyp'), ...readdirSync(join(root, 'native')).map((f) => join(root, 'native', f))];

/** Prints why the native kernel is not built and leaves with success (the WebAssembly kernel takes over). */
function skip(why) {
  process.stdout.write(`build-native: native mining kernel not built: ${why}; the WebAssembly SIMD kernel will be used\n`);
  process.exit(0);
}

if (process.argv.includes('--if-stale') && existsSync(addon)) {
  const built = statSync(addon).mtimeMs;
  if (sources.every((f) => statSync(f).mtimeMs <= built)) {
    process.stdout.write(`build-native: ${addon} is up to date\n`);
    process.exit(0);
  }
}

// The SHA-NI kernel is x86-64 code.
if (process.arch !== 'x64') skip(`the SHA-NI kernel is for x86-64 only, this is ${process.arch}`);

// Headers of the running Node: an explicit npm_config_nodedir, else the installation prefix of this node binary.
const nodedir = process.env.npm_config_nodedir || join(dirname(process.execPath), '..');
for (const header of ['include/node/node_api.h', 'include/node/common.gypi']) {
  if (!existsSync(join(nodedir, header))) skip(`${join(nodedir, header)} not found (install the Node headers, e.g. the nodejs dev package)`);
}

// npm runs scripts with npm_config_node_gyp set to its bundled node-gyp; otherwise look for node-gyp on PATH.
let gyp = process.env.npm_config_node_gyp;
let gypArgs = [];
if (gyp && existsSync(gyp)) {
  gypArgs = [gyp];
  gyp = process.execPath;
} else {
  gyp = (process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'node-gyp')).find((p) => existsSync(p));
  if (!gyp) skip('node-gyp not found (run this through npm, which bundles it)');
}

const result = spawnSync(gyp, [...gypArgs, 'rebuild', `--nodedir=${nodedir}`, '--loglevel=warn'], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'pipe'],
  encoding: 'utf8',
});
if (result.error) skip(`node-gyp could not start: ${result.error.message}`);
if (result.status !== 0 || !existsSync(addon)) {
  process.stderr.write(result.stdout);
  process.stderr.write(result.stderr);
  skip(`node-gyp exited with ${result.status ?? result.signal} (output above)`);
}
process.stdout.write(`build-native: ${addon}\n`);
