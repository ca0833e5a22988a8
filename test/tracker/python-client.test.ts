import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { PID_PATTERN } from '../../src/tracker/protocol.js';
import { trackerFor } from './helpers.js';

/*
 * A Python 3 client (standard library only, test/tracker/python_client.py)
 * that does what document 001's sample code does — `socket.create_connection`,
 * `recv` the greeting, `s.send(request_message.encode())` with no line end,
 * `recv` the reply — against a real tracker.
 */

const SCRIPT = fileURLToPath(new URL('../../../test/tracker/python_client.py', import.meta.url));
const PYTHON = process.env.PYTHON ?? 'python3';

interface PythonResult {
  greeting: string;
  peer_id: string;
  peers: Array<{ peer_id: string; host: string; port: number }>;
  error: string;
}

function runPython(args: string[]): Promise<PythonResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`python exited with ${code}: ${err}`));
      else resolve(JSON.parse(out) as PythonResult);
    });
  });
}

const hasPython = spawnSync(PYTHON, ['--version']).status === 0;

t.test('a Python client written like document 001\'s samples joins and lists peers', { skip: hasPython ? false : `${PYTHON} is not installed` }, async (t) => {
  const tracker = await trackerFor(t);
  const first = await runPython(['127.0.0.1', String(tracker.port), 'localhost', '9009']);
  t.equal(first.greeting, 'Connection Successful\n', 'greeting as one recv: the document\'s string and an LF');
  t.match(first.peer_id, PID_PATTERN, 'PID from a request sent without line end');
  t.same(first.peers, [], 'alone in the chain');
  t.match(first.error, /^ERROR UNKNOWN_PEER /, 'unknown PID with CRLF: error line');

  const second = await runPython(['127.0.0.1', String(tracker.port), 'localhost', '9010']);
  t.not(second.peer_id, first.peer_id, 'a different PID for a different peer');
  t.same(second.peers, [{ peer_id: first.peer_id, host: 'localhost', port: 9009 }], 'sees the first peer; port is a JSON number');
});
