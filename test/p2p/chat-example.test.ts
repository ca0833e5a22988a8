/**
 * examples/chat runs as the README says: two chat.ts processes (built into
 * dist/examples) find each other and carry lines both ways; with python-p2p-
 * network 1.2 importable (`pip install p2pnetwork`, or P2PNETWORK_PATH naming
 * a folder that holds the `p2pnetwork` package), chat.ts and chat.py talk in
 * both directions too. The Python library is GPL and not a dependency, so
 * without it that half is skipped with the reason.
 */
import t, { type Test } from 'tap';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

// dist/test/p2p/ → repository root
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CHAT_JS = fileURLToPath(new URL('../../examples/chat/chat.js', import.meta.url));
const CHAT_PY = `${ROOT}examples/chat/chat.py`;
const pythonEnv = { ...process.env, ...(process.env.P2PNETWORK_PATH ? { PYTHONPATH: process.env.P2PNETWORK_PATH } : {}) };
const skipWithoutP2pnetwork: false | string =
  spawnSync('python3', ['-c', 'import p2pnetwork'], { env: pythonEnv }).status === 0 ? false : 'python-p2p-network (p2pnetwork) is not importable: pip install p2pnetwork, or set P2PNETWORK_PATH';

/** A chat process: `until(pattern)` resolves with the first output line (from now on or already seen) matching it. */
interface Chat {
  say(line: string): void;
  until(pattern: RegExp): Promise<string>;
  exited: Promise<unknown[]>;
  child: ChildProcessWithoutNullStreams;
}

function chat(t: Test, argv: string[], env: NodeJS.ProcessEnv = process.env): Chat {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const seen: string[] = [];
  const waiters: { pattern: RegExp; resolve: (l: string) => void }[] = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'exit');
  createInterface({ input: child.stdout }).on('line', (line) => {
    seen.push(line);
    for (const w of [...waiters]) {
      if (w.pattern.test(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  return {
    child,
    exited,
    say: (line) => child.stdin.write(`${line}\n`),
    until: (pattern) => {
      const already = seen.find((l) => pattern.test(l));
      if (already !== undefined) return Promise.resolve(already);
      return new Promise<string>((resolve, reject) => {
        waiters.push({ pattern, resolve });
        void exited.then(() => reject(new Error(`${argv.join(' ')} exited before printing ${pattern}; output: ${seen.join(' | ')} ${stderr}`)));
      });
    },
  };
}

/** The port a chat prints in its first line. */
async function listeningPort(c: Chat): Promise<number> {
  const line = await c.until(/listening on 127\.0\.0\.1:\d+$/);
  return Number(/:(\d+)$/.exec(line)![1]);
}

t.test('two chat.ts processes carry lines both ways, list each other and leave cleanly', async (t) => {
  const alice = chat(t, [process.execPath, CHAT_JS, '--name', 'alice']);
  const port = await listeningPort(alice);
  const bob = chat(t, [process.execPath, CHAT_JS, '--name', 'bob', '--connect', `127.0.0.1:${port}`]);
  await bob.until(/^\* connected to alice /);
  await alice.until(/^\* bob joined /);
  bob.say('hello alice');
  t.equal(await alice.until(/^bob: /), 'bob: hello alice');
  alice.say('hi bob');
  t.equal(await bob.until(/^alice: /), 'alice: hi bob');
  alice.say('/peers');
  t.equal(await alice.until(/^\* (bob|nobody)$/), '* bob');
  bob.say('/quit');
  await bob.until(/^\* bye$/);
  t.equal(await alice.until(/^\* bob left$/), '* bob left');
  alice.child.stdin.end();
  await alice.until(/^\* bye$/);
  t.same((await alice.exited)[0], 0, 'end of input leaves with exit code 0');
});

t.test('chat.ts refuses a bad --connect with exit code 2', async (t) => {
  const bad = chat(t, [process.execPath, CHAT_JS, '--connect', 'nowhere']);
  t.same((await bad.exited)[0], 2);
});

t.test('chat.ts and chat.py (python-p2p-network 1.2) talk in both directions', { skip: skipWithoutP2pnetwork }, async (t) => {
  const ts = chat(t, [process.execPath, CHAT_JS, '--name', 'typescript']);
  const tsPort = await listeningPort(ts);
  // python-p2p-network needs a fixed port: take one the kernel just gave and released.
  const probe = chat(t, [process.execPath, CHAT_JS, '--name', 'probe']);
  const pyPort = await listeningPort(probe);
  probe.child.stdin.end();
  await probe.exited;
  const py = chat(t, ['python3', '-u', CHAT_PY, 'python', String(pyPort), `127.0.0.1:${tsPort}`], pythonEnv);
  await py.until(/^\* connected to typescript /);
  await ts.until(/^\* python joined /);
  py.say('from python');
  t.equal(await ts.until(/^python: /), 'python: from python', 'python → typescript');
  ts.say('from typescript');
  t.equal(await py.until(/^typescript: /), 'typescript: from typescript', 'typescript → python');
  py.say('/quit');
  await py.exited;
  t.equal(await ts.until(/^\* python left$/), '* python left');
});
