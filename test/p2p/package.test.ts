/**
 * `cheesechain/p2p` is usable from another package: a temporary package that
 * depends on this repository through a `file:` link (installed by npm)
 * imports `Node`, `NodeConnection` and `SecureNode`, type-checks against the
 * exported declarations, and runs two nodes that exchange a message.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
// dist/test/p2p/ → repository root
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

const CONSUMER = `import { Node, NodeConnection, SecureNode, type NodeMessage } from 'cheesechain/p2p';

const a = new Node({ id: 'consumer-a' });
const b = new SecureNode({ id: 'consumer-b' });
await a.start();
await b.start();
const got = new Promise<NodeMessage>((resolve) => a.on('node_message', (_conn: NodeConnection, data: NodeMessage) => resolve(data)));
await b.connectWithNode('127.0.0.1', a.port);
b.sendToNodes({ from: 'another package' });
console.log(JSON.stringify(await got));
console.log(NodeConnection.name, a instanceof Node, b instanceof Node);
await b.stop();
await a.stop();
`;

t.test("import { Node, NodeConnection, SecureNode } from 'cheesechain/p2p' works from another package", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cheesechain-p2p-consumer-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'p2p-consumer', version: '1.0.0', type: 'module', private: true, dependencies: { cheesechain: `file:${ROOT}` } }),
  );
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')], outDir: 'out' }, files: ['main.ts'] }),
  );
  writeFileSync(join(dir, 'main.ts'), CONSUMER);
  await run('npm', ['install', '--no-audit', '--no-fund', '--offline', '--ignore-scripts'], { cwd: dir });
  const tsc = await run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: dir }).catch((err: { stdout: string }) => err);
  t.equal(tsc.stdout, '', 'the consumer type-checks against the exported declarations');
  const { stdout } = await run(process.execPath, [join('out', 'main.js')], { cwd: dir });
  t.same(stdout.trim().split('\n'), ['{"from":"another package"}', 'NodeConnection true true']);
});
