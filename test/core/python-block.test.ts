/**
 * docs/consensus.md is enough to build a block: a Python program written
 * from that page alone (`python_block_builder.py`, standard library only)
 * builds a coinbase, computes the merkle root, mines a regtest header and
 * submits the block over the peer protocol to a real peer, which connects it.
 */
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startPeer, untilTip } from '../network/helpers.js';

// dist/test/core/ → repository root
const SCRIPT = fileURLToPath(new URL('../../../test/core/python_block_builder.py', import.meta.url));
const skip = spawnSync('python3', ['--version']).status === 0 ? false : 'python3 is not installed';

t.test('a block built and mined from docs/consensus.md alone is accepted over the wire', { skip }, async (t) => {
  const node = await startPeer(t, { nodeId: 'consensus-doc' });
  const info = await node.api.info();
  const child = spawn('python3', [SCRIPT, '127.0.0.1', String(node.listenPort), info.networkId], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill();
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  const lines = stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { event: string; hash?: string; height?: number });
  t.equal(code, 0, `python exited 0 (stderr: ${stderr.slice(0, 500)}; last: ${JSON.stringify(lines.at(-1))})`);
  const mined = lines.find((l) => l.event === 'mined');
  t.ok(mined, 'the program mined a block');
  t.match(lines.at(-1), { event: 'accepted', hash: mined?.hash });
  await untilTip(node, mined!.hash!);
  const after = await node.api.info();
  t.equal(after.height, info.height + 1, 'the peer\'s chain grew by the Python block');
  t.equal(after.tip, mined!.hash);
});
