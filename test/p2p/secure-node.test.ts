/**
 * SecureNode: Python's json.dumps reproduced byte for byte (checked against
 * python3 itself), signed messages between TypeScript nodes, and both
 * directions against a Python client that produces and checks the format of
 * python-p2p-network's SecureNode with `cryptography` (`secure_client.py`).
 */
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { SecureMessageError, SecureNode, parsePyJson, pythonFloatRepr, pythonJsonDumps, secureHash, type NodeConnection, type PyObject, type NodeMessage, type SecureNodeInit } from '../../src/p2p/index.js';
import { runPython, skipWithoutPython } from '../helpers/python.js';

const SCRIPT = fileURLToPath(new URL('../../../test/p2p/secure_client.py', import.meta.url));

/** JSON texts whose Python re-serialisation must be reproduced exactly. */
const VECTORS = [
  '{"b": 1, "a": 2.0, "c": [1.5, 1e16, 1e15, 0.0001, 0.00001, 123456789.123, 5e-324, 1.7976931348623157e308, -0.0, 1e22, 100.0, 0.1, 3.14159]}',
  '{"huge": 1180591620717411303424, "neg": -42, "zero": -0, "exp": 1E+2, "small": 2.5e-7}',
  '{"text": "h\\u00e9llo \\ud83e\\uddc0 \\"q\\" \\\\ \\t \\n \\r \\b \\f \\u0001 \\u007f / \\/", "raw": "ünï 🧀"}',
  '{"\\uffff": 1, "\\ud83d\\ude00": 2, "Z": 3, "a": 4, "_id": 5, "é": 6}',
  '[true, false, null, [], {}, [[]], {"x": {"y": {"z": [1, {"w": null}]}}}]',
  '"just a string"',
  '{"dup": 1, "dup": 2}',
];

t.test("Python's json.dumps, byte for byte (checked against python3)", { skip: skipWithoutPython }, async (t) => {
  const py = spawnSync(
    'python3',
    ['-c', 'import json,sys\nfor line in sys.stdin.read().split("\\n"):\n    v=json.loads(line)\n    print(json.dumps(v, sort_keys=True))\n    print(json.dumps(v, separators=(",", ":")))'],
    { input: VECTORS.join('\n'), encoding: 'utf8' },
  );
  t.equal(py.status, 0, py.stderr);
  const expected = py.stdout.trimEnd().split('\n');
  VECTORS.forEach((text, i) => {
    const v = parsePyJson(text);
    t.equal(pythonJsonDumps(v, { sortKeys: true }), expected[2 * i], `sort_keys=True: ${text.slice(0, 40)}`);
    t.equal(pythonJsonDumps(v, { separators: [',', ':'] }), expected[2 * i + 1], `separators=(',', ':'): ${text.slice(0, 40)}`);
  });
});

t.test('pythonFloatRepr and the parser edge cases', async (t) => {
  t.same([1, 1e16, 1e-5, 0.0001, -2.5, 1e100].map(pythonFloatRepr), ['1.0', '1e+16', '1e-05', '0.0001', '-2.5', '1e+100']);
  t.equal(typeof parsePyJson('7'), 'bigint', 'an integer stays an integer');
  t.equal(typeof parsePyJson('7.0'), 'number', 'a float stays a float');
  for (const bad of ['{"a": 1,}', '{"a" 1}', '"\u0001"', '[1] 2', '{', '01', '"\\x"']) t.throws(() => parsePyJson(bad), { name: 'PyJsonSyntaxError' }, JSON.stringify(bad));
  t.throws(() => parsePyJson('['.repeat(300) + ']'.repeat(300)), /nesting deeper/);
});

async function startSecure(t: Test, init: SecureNodeInit = {}): Promise<SecureNode> {
  const node = new SecureNode({ host: '127.0.0.1', port: 0, ...init });
  await node.start();
  t.teardown(() => node.stop());
  return node;
}

t.test('two SecureNodes: signed messages arrive verified; tampered and unsigned ones raise a typed refusal and are dropped', async (t) => {
  const a = await startSecure(t, { id: 'secure-a' });
  const b = await startSecure(t, { id: 'secure-b' });
  const inbound = once(a, 'inbound_node_connected') as Promise<[NodeConnection]>;
  await b.connectWithNode('127.0.0.1', a.port);
  const [fromB] = await inbound;
  const received = once(a, 'node_message') as Promise<[NodeConnection, NodeMessage]>;
  b.sendMessage({ text: 'signed', amount: 1.5, n: 2 });
  const [, data] = await received;
  t.match(data, { message: { text: 'signed', amount: 1.5, n: 2 }, _id: 'secure-b', _mcs: 0, _mcr: 0 });
  const msg = data as Record<string, unknown>;
  t.match(msg['_signature'], /^[A-Za-z0-9+/]+=*$/);
  t.match(msg['_public_key'], /^-----BEGIN PUBLIC KEY-----\n/);
  t.equal(msg['_public_key'], b.getPublicKey());

  const signed = JSON.parse(b.createMessage({ message: 'pay 1' })) as Record<string, unknown>;
  const cases: [string, string, string][] = [
    ['tampered field', JSON.stringify({ ...signed, message: 'pay 1000' }), 'bad-signature'],
    ['unsigned', JSON.stringify({ message: 'unsigned' }), 'unsigned'],
    ['a list', '[1, 2]', 'not-a-dictionary'],
    ['not JSON', 'plain text', 'not-json'],
    ['a bad public key', JSON.stringify({ ...signed, _public_key: 'not a key' }), 'bad-public-key'],
    ['a wrong _hash under a valid-looking signature', JSON.stringify({ ...signed, _hash: '0'.repeat(128) }), 'bad-signature'],
  ];
  for (const [name, text, code] of cases) {
    const refused = once(a, 'node_message_refused') as Promise<[NodeConnection, Error]>;
    b.sendToNode(b.nodesOutbound[0]!, text);
    const [conn, err] = await refused;
    t.equal(conn, fromB);
    t.ok(err instanceof SecureMessageError, `${name}: a SecureMessageError`);
    t.equal((err as SecureMessageError).reason, code, name);
  }
  t.equal(a.messageCountRerr, cases.length);
  const after = once(a, 'node_message') as Promise<[NodeConnection, NodeMessage]>;
  b.sendMessage('still talking');
  t.match((await after)[1], { message: 'still talking' }, 'the connection lives on after refusals');
});

t.test('checkMessage: a validly signed message whose _hash or _message_id is wrong is refused with its own code', async (t) => {
  const checker = new SecureNode({ id: 'checker' });
  const good = parsePyJson(new SecureNode({ id: 'signer' }).createMessage({ message: 'x' })) as PyObject;
  t.equal(checker.checkMessage(good), undefined, 'a fresh message checks out');
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  /** Signs `fields` as SecureNode does, but with the given _message_id and _hash. */
  const forge = (messageId: string, hash: string): PyObject => {
    const data = Object.assign(Object.create(null) as PyObject, { message: 'x', _id: 'forger', _timestamp: 1.5, _message_id: messageId, _hash: hash });
    data['_signature'] = sign('sha512', Buffer.from(pythonJsonDumps(data, { sortKeys: true })), privateKey).toString('base64');
    data['_public_key'] = publicKey.export({ type: 'spki', format: 'pem' }) as string;
    return data;
  };
  const base = Object.assign(Object.create(null) as PyObject, { message: 'x', _id: 'forger', _timestamp: 1.5 });
  const id = secureHash(base);
  const hash = secureHash(Object.assign(Object.create(null) as PyObject, { ...base, _message_id: id }));
  t.equal(checker.checkMessage(forge(id, hash)), undefined, 'the forged-by-hand message is well formed');
  t.equal(checker.checkMessage(forge(id, '0'.repeat(128)))?.reason, 'hash-mismatch');
  const wrongId = '1'.repeat(128);
  t.equal(checker.checkMessage(forge(wrongId, secureHash(Object.assign(Object.create(null) as PyObject, { ...base, _message_id: wrongId }))))?.reason, 'message-id-mismatch');
  const noTimestamp = Object.assign(Object.create(null) as PyObject, good);
  delete noTimestamp['_timestamp'];
  t.equal(checker.checkMessage(noTimestamp)?.reason, 'unsigned');
});

t.test('ping, pong and discovery between SecureNodes', async (t) => {
  const a = await startSecure(t, { id: 'disc-a' });
  const b = await startSecure(t, { id: 'disc-b' });
  const c = await startSecure(t, { id: 'disc-c' });
  await b.connectWithNode('127.0.0.1', a.port);
  await c.connectWithNode('127.0.0.1', b.port);
  const pong = once(a, 'node_message') as Promise<[NodeConnection, NodeMessage]>;
  a.sendPing();
  const [conn, data] = await pong;
  t.match(data, { _type: 'pong', id: 'disc-b' });
  t.ok((conn.getInfo('latency') as number) >= 0, 'the latency is stored on the connection');
  const answers: NodeMessage[] = [];
  const two = new Promise<void>((resolve) =>
    a.on('node_message', (_c, d) => {
      answers.push(d);
      if (answers.length === 2) resolve();
    }),
  );
  a.sendDiscovery();
  await two;
  const byId = Object.fromEntries(answers.map((x) => [(x as { nodes: { id: string }[] }).nodes.map((n) => n.id).sort().join(','), x]));
  t.ok(byId['disc-a,disc-c'], "b's answer lists a and c");
  t.ok(byId['disc-b'], "c's answer came back through b");
  t.match(answers[0], { _type: 'discovery_answer', id: 'disc-a' });
});

t.test('a Python SecureNode-format client and a TypeScript SecureNode verify each other', { skip: skipWithoutPython }, async (t) => {
  const node = await startSecure(t, { id: 'ts-secure' });
  const refused: string[] = [];
  node.on('node_message_refused', (_c, err) => refused.push((err as SecureMessageError).reason));
  const messages: NodeMessage[] = [];
  node.on('node_message', (conn, data) => {
    messages.push(data);
    const m = (data as { message?: unknown }).message;
    if (m === 'hello from python') node.sendToNode(conn, node.createMessage({ reply: 'hi python', amount: 2.5, n: 3, text: 'ünïcode 🧀', list: [1, 0.5, null] }));
    if (m === 'done') node.sendToNode(conn, node.createMessage({ message: 'bye' }));
  });
  const py = runPython(t, SCRIPT, ['dial', '127.0.0.1', String(node.port)]);
  t.equal(await py.exit, 0, `python client succeeded: ${JSON.stringify(py.lines.at(-1))}`);
  t.same(refused, ['bad-signature', 'unsigned', 'bad-signature'], 'tampered, unsigned and wrongly signed messages were refused with typed codes');
  t.match(messages[0], {
    message: 'hello from python',
    amount: 1,
    fee: 0.00001,
    big: 1e16,
    n: 7,
    huge: 2 ** 70,
    text: 'h\u00e9llo \u{1f9c0} "quoted" \\ tab\t',
    _id: 'python-secure',
  });
  t.match(messages.at(-1), { message: 'done' });
  t.equal(messages.length, 2, 'the ping was answered, not delivered');
  const received = py.lines.filter((l) => l.event === 'received');
  t.ok(received.every((l) => l.valid === true), 'python verified every message from TypeScript');
  const data = received.map((l) => l.data as { _type?: string; reply?: string; message?: string });
  t.match(data.find((d) => d._type === 'pong'), { id: 'ts-secure' }, 'the ping was answered with a pong Python verified');
  t.match(data.find((d) => d.reply !== undefined), { reply: 'hi python', amount: 2.5, n: 3, text: 'ünïcode 🧀', list: [1, 0.5, null], _id: 'ts-secure' });
  t.match(data.find((d) => d.message !== undefined), { message: 'bye' });
  t.equal(data.length, 3);
});
