/**
 * Authenticated node identity in the HELLO/HEY exchange, over real TCP on
 * 127.0.0.1: two keyed nodes prove their keys to each other; a raw client
 * that follows docs/protocol.md with its own ed25519 code proves its key;
 * claims of an authenticated id without the key, replayed and relayed
 * signatures are refused with bad-auth; an unauthenticated client still
 * connects. Also the message-layer guards: unknown methods answered with
 * REJECT and ignored, the frame limit rising at the exact byte where the
 * handshake completes, deep nesting refused before parsing.
 */
import t from 'tap';
import { generateKeyPair, keyPairFromSeed, sign } from '../../src/core/ed25519.js';
import { toHex } from '../../src/core/encoding.js';
import { authenticatedId, handshakeTranscript, IdentitySigner, isAuthenticatedId, verifyTranscript } from '../../src/transport/handshake-auth.js';
import { MAX_HANDSHAKE_FRAME_BYTES } from '../../src/transport/limits.js';
import { decodeMessage, message, type HelloPayload } from '../../src/transport/messages.js';
import { dial } from '../../src/transport/tcp.js';
import { NET, RawPeer, frame, helloPayload, rawFrame, startListener, status } from './helpers.js';

/** docs/protocol.md, "Authenticated identity": regtest, dialer seed 01…01, acceptor seed 02…02, nonces 11…11 and 22…22, the dialer signing. */
const DOCS_TRANSCRIPT =
  '636865657365636861696e2f68616e647368616b652f319760b29395557b984fcb04f1b5e1e0e7e2f2c9e43b05e297cb06bc5c2a93ed7901' +
  '1111111111111111111111111111111111111111111111111111111111111111' +
  '2222222222222222222222222222222222222222222222222222222222222222' +
  '8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c' +
  '8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394' +
  '48656432353531395f3861383865336464373430396631393566643532646232643363626135643732636136373039626631643934313231626633373438383031623430663666356348' +
  '656432353531395f38313339373730656138376431373566353661333534363663333463376563636362386438613931623465653337613235646636306635623866633962333934';
const DOCS_SIGNATURE = '2cfda425441378099bbcc72fed3f99c5956cbf5db6aa33d0de69590fdcdb4cc3366d9a20239d5aa439f896d3db280b3c51466b3ed54635d6fcc6f8d155aa2706';

const signer = (seedByte: number) => new IdentitySigner(keyPairFromSeed(new Uint8Array(32).fill(seedByte)));

t.test('the authenticated id form is the public key behind a fixed prefix', async (t) => {
  const kp = keyPairFromSeed(new Uint8Array(32).fill(1));
  const id = authenticatedId(kp.publicKey);
  t.equal(id, 'ed25519_' + toHex(kp.publicKey));
  t.ok(isAuthenticatedId(id));
  t.notOk(isAuthenticatedId('peer1'));
  t.notOk(isAuthenticatedId('ed25519_' + 'A'.repeat(64)), 'upper-case hex is not the form');
  t.notOk(isAuthenticatedId('x' + id), 'the prefix must come first');
});

t.test('transcript test vector (the one docs/protocol.md shows)', async (t) => {
  const dialer = keyPairFromSeed(new Uint8Array(32).fill(1));
  const acceptor = keyPairFromSeed(new Uint8Array(32).fill(2));
  const input = {
    network: NET,
    signer: 'dialer' as const,
    dialer: { nodeId: authenticatedId(dialer.publicKey), publicKey: toHex(dialer.publicKey), nonce: '11'.repeat(32) },
    acceptor: { nodeId: authenticatedId(acceptor.publicKey), publicKey: toHex(acceptor.publicKey), nonce: '22'.repeat(32) },
  };
  const bytes = handshakeTranscript(input);
  t.equal(bytes.length, 23 + 32 + 1 + 32 * 4 + 1 + 72 + 1 + 72, 'domain, network, role, nonces, keys, ids');
  t.equal(Buffer.from(bytes.subarray(0, 23)).toString('latin1'), 'cheesechain/handshake/1');
  const sig = new IdentitySigner(dialer).sign(bytes);
  t.equal(sig, toHex(sign(bytes, dialer.secretKey)), 'node:crypto and tweetnacl sign alike (RFC 8032 is deterministic)');
  t.ok(verifyTranscript(input, toHex(dialer.publicKey), sig));
  t.notOk(verifyTranscript({ ...input, signer: 'acceptor' }, toHex(dialer.publicKey), sig), 'the role byte stops reflection');
  t.notOk(verifyTranscript({ ...input, acceptor: { ...input.acceptor, nonce: '33'.repeat(32) } }, toHex(dialer.publicKey), sig), 'another acceptor nonce: no replay');
  t.equal(Buffer.from(bytes).toString('hex'), DOCS_TRANSCRIPT, 'the transcript of the docs example');
  t.equal(sig, DOCS_SIGNATURE, 'the signature of the docs example');
});

t.test('two keyed nodes prove their keys to each other', async (t) => {
  const a = signer(3);
  const b = signer(4);
  const { listener, nextConnection } = await startListener(t, { nodeId: authenticatedId(a.publicKey), identity: a });
  const out = await dial({ host: '127.0.0.1', port: listener.port, nodeId: authenticatedId(b.publicKey), identity: b, listenPort: 0, network: NET, status });
  t.teardown(() => out.close());
  const hello = await out.ready;
  t.equal(hello.nodeId, authenticatedId(a.publicKey));
  t.equal(out.remoteIdentity, a.publicKeyHex, 'the dialer knows the acceptor proved its key');
  const inbound = await nextConnection();
  await inbound.conn.ready;
  t.equal(inbound.conn.remoteIdentity, b.publicKeyHex, 'the acceptor knows the dialer proved its key');
});

t.test('a free-form id with a key: the key is proven, the id is just a name', async (t) => {
  const a = signer(5);
  const { listener, nextConnection } = await startListener(t, { nodeId: 'server' });
  const out = await dial({ host: '127.0.0.1', port: listener.port, nodeId: 'peer1', identity: a, listenPort: 0, network: NET, status });
  t.teardown(() => out.close());
  await out.ready;
  t.equal(out.remoteIdentity, undefined, 'the acceptor has no key: unauthenticated');
  const inbound = await nextConnection();
  await inbound.conn.ready;
  t.equal(inbound.conn.remoteIdentity, a.publicKeyHex);
});

/** Runs the dialer's side of an authenticated handshake by hand, as a third-party client would from docs/protocol.md. */
async function signedHandshake(
  py: RawPeer,
  kp: { publicKey: Uint8Array; secretKey: Uint8Array },
  opts: { nodeId?: string; nonce?: string; tamper?: (acceptor: { nodeId: string; publicKey?: string; nonce?: string }) => typeof acceptor; signature?: string } = {},
): Promise<{ acceptorHello: HelloPayload; signature: string }> {
  const nodeId = opts.nodeId ?? authenticatedId(kp.publicKey);
  const nonce = opts.nonce ?? toHex(generateKeyPair().publicKey);
  const auth = { publicKey: toHex(kp.publicKey), nonce };
  await py.sendId(nodeId, 0);
  const acceptorId = await py.readId();
  await py.send(message('HELLO', helloPayload(nodeId, { port: 0, auth })));
  const hey = await py.expect('HEY');
  const hello = await py.expect('HELLO');
  const theirs = hey.payload.auth!;
  let acceptor: { nodeId: string; publicKey?: string; nonce?: string } = { nodeId: acceptorId, publicKey: theirs.publicKey, nonce: theirs.nonce };
  if (opts.tamper) acceptor = opts.tamper(acceptor);
  const signature = opts.signature ?? toHex(sign(handshakeTranscript({ network: NET, signer: 'dialer', dialer: { nodeId, ...auth }, acceptor }), kp.secretKey));
  await py.send(message('HEY', helloPayload(nodeId, { port: 0, auth: { ...auth, signature } })));
  return { acceptorHello: hello.payload, signature };
}

t.test('a client written from the docs proves its key; replayed and relayed signatures are refused', async (t) => {
  const server = signer(6);
  const { listener, nextConnection } = await startListener(t, { nodeId: authenticatedId(server.publicKey), identity: server });
  const kp = keyPairFromSeed(new Uint8Array(32).fill(7));

  const py = await RawPeer.connect(t, listener.port);
  const first = await signedHandshake(py, kp);
  const ok = await nextConnection();
  await ok.conn.ready;
  t.equal(ok.conn.remoteIdentity, toHex(kp.publicKey), 'the hand-made signature proves the key');
  t.ok(first.acceptorHello.auth, 'the acceptor sends its key');

  // Replay: the same signature on a new connection, whose acceptor nonce is fresh.
  const replay = await RawPeer.connect(t, listener.port);
  await signedHandshake(replay, kp, { signature: first.signature });
  t.match(await replay.untilClosed(), { code: 'bad-auth' });
  t.match(await (await nextConnection()).ended(), { reason: 'bad-auth', handshakeCompleted: false, points: 100 });

  // Relay: a signature made for another acceptor (another key in the transcript) is worthless here.
  const other = signer(8);
  const relay = await RawPeer.connect(t, listener.port);
  await signedHandshake(relay, kp, { tamper: (a) => ({ ...a, publicKey: other.publicKeyHex, nodeId: authenticatedId(other.publicKey) }) });
  t.match(await relay.untilClosed(), { code: 'bad-auth' });
  t.match(await (await nextConnection()).ended(), { reason: 'bad-auth' });
});

t.test("claiming an authenticated id without its key is bad-auth", async (t) => {
  const server = signer(9);
  const honest = keyPairFromSeed(new Uint8Array(32).fill(10));
  const attacker = keyPairFromSeed(new Uint8Array(32).fill(11));
  const { listener, nextConnection } = await startListener(t, { nodeId: authenticatedId(server.publicKey), identity: server });

  // No auth at all.
  const bare = await RawPeer.connect(t, listener.port);
  await bare.sendId(authenticatedId(honest.publicKey), 0);
  await bare.readId();
  await bare.send(message('HELLO', helloPayload(authenticatedId(honest.publicKey), { port: 0 })));
  t.match(await bare.untilClosed(), { code: 'bad-auth', reason: /no key proves it/ });
  t.match(await (await nextConnection()).ended(), { reason: 'bad-auth' });

  // The attacker's own key under the honest id.
  const squat = await RawPeer.connect(t, listener.port);
  await squat.sendId(authenticatedId(honest.publicKey), 0);
  await squat.readId();
  await squat.send(message('HELLO', helloPayload(authenticatedId(honest.publicKey), { port: 0, auth: { publicKey: toHex(attacker.publicKey), nonce: '44'.repeat(32) } })));
  t.match(await squat.untilClosed(), { code: 'bad-auth', reason: /is not the id of key/ });
  t.match(await (await nextConnection()).ended(), { reason: 'bad-auth' });

  // The honest key but a signature by the attacker.
  const forged = await RawPeer.connect(t, listener.port);
  await signedHandshake(forged, { publicKey: honest.publicKey, secretKey: attacker.secretKey });
  t.match(await forged.untilClosed(), { code: 'bad-auth', reason: /signature/ });
  t.match(await (await nextConnection()).ended(), { reason: 'bad-auth' });
});

t.test('an unauthenticated client (plain python-p2p-network) still connects, with no identity', async (t) => {
  const server = signer(12);
  const { listener, nextConnection } = await startListener(t, { nodeId: authenticatedId(server.publicKey), identity: server });
  const py = await RawPeer.connect(t, listener.port);
  const hello = await py.handshake('a'.repeat(128), 0);
  t.equal(hello.auth?.publicKey, server.publicKeyHex, 'the acceptor still shows its key');
  const inbound = await nextConnection();
  await inbound.conn.ready;
  t.equal(inbound.conn.remoteIdentity, undefined);
  t.ok(inbound.conn.isOpen);
});

t.test('an unknown method is answered with REJECT and ignored, and reported as a small fault', async (t) => {
  const { listener, nextConnection } = await startListener(t);
  const py = await RawPeer.connect(t, listener.port);
  await py.handshake('client');
  const server = await nextConnection();
  await server.conn.ready;
  const faults: Array<{ reason: string; points: number }> = [];
  server.conn.on('misbehaving', (_c, f) => faults.push(f));
  await py.write(rawFrame('{"GET_CHAIN": "PID1"}'));
  t.match(await py.expect('REJECT'), { payload: { code: 'unknown-message' } });
  await py.send(message('PING', { nonce: 5 }));
  t.match(await py.expect('PONG'), { payload: { nonce: 5 } }, 'the connection goes on');
  t.match(faults, [{ reason: 'unknown-method', points: 1 }]);
  t.ok(server.conn.isOpen);
});

t.test('the frame limit rises at the exact byte where the handshake completes', async (t) => {
  const { listener, nextConnection } = await startListener(t);
  const py = await RawPeer.connect(t, listener.port);
  await py.sendId('client', 9000);
  await py.readId();
  await py.send(message('HELLO', helloPayload('client')));
  await py.expect('HEY');
  await py.expect('HELLO');
  const addresses = Array.from({ length: 600 }, (_, i) => ({ host: `host-${i}.example.org`, port: 1000 + i, nodeId: `node-${i}` }));
  const big = frame(message('ADDR', { addresses }));
  t.ok(big.length > MAX_HANDSHAKE_FRAME_BYTES, 'the ADDR is over the handshake limit');
  await py.write(Buffer.concat([frame(message('HEY', helloPayload('client'))), big]));
  const server = await nextConnection();
  const got = await server.messagesCount(1);
  t.equal(got[0]!.method, 'ADDR', 'the large frame in the same write as the final HEY is judged by the open limit');
  t.ok(server.conn.isOpen);
});

t.test('deep nesting is refused by a linear scan before parsing', async (t) => {
  const depth = 1_900_000;
  const hostile = '{"ADDR":' + '['.repeat(depth) + ']'.repeat(depth) + '}';
  const r = decodeMessage(hostile);
  t.match(r, { ok: false, error: { code: 'ERR_MESSAGE', reason: 'malformed-json', message: /nested deeper than 16/ } });
  const fine = decodeMessage('{"REJECT":{"message":"","code":"x","reason":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}}');
  t.equal(fine.ok, true, 'brackets inside strings do not count');
  const escaped = decodeMessage('{"REJECT":{"message":"","code":"x","reason":"\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}}');
  t.equal(escaped.ok, true, 'an escaped quote does not end the string');

  const { listener, nextConnection } = await startListener(t);
  const py = await RawPeer.connect(t, listener.port);
  await py.handshake('client');
  await py.write(rawFrame(hostile));
  t.match(await py.expect('REJECT'), { payload: { code: 'unknown-message', reason: /nested deeper than 16/ } }, 'refused and answered');
  await py.send(message('PING', { nonce: 9 }));
  t.match(await py.expect('PONG'), { payload: { nonce: 9 } }, 'the connection goes on');
  void nextConnection;
});
