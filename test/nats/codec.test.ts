import t from 'tap';
import { genesisBlock, networkParams } from '../../src/core/genesis.js';
import { blockSize } from '../../src/core/block.js';
import { answerRequest } from '../../src/nats/bridge.js';
import {
  decodeJson,
  encodeJson,
  eventMessage,
  eventName,
  eventPayload,
  parseFarmCancel,
  parseFarmJob,
  parseFarmReport,
  parseFarmSolution,
  parseRequest,
  PayloadTooLargeError,
  targetFromHex,
  targetToHex,
} from '../../src/nats/codec.js';
import { eventSubject, farmSolutionSubject, farmSubjects, parseEventSubject, SubjectTokenError } from '../../src/nats/subjects.js';
import type { NodeApi } from '../../src/node/node-api.js';

const enc = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));

t.test('subjects are built from checked tokens and parsed back', async (t) => {
  t.equal(eventSubject('devnet', 'peer1', 'block.connected'), 'cheesechain.devnet.peer1.evt.block.connected');
  t.same(parseEventSubject('cheesechain.devnet.peer1.evt.tx.accepted'), { network: 'devnet', nodeId: 'peer1', event: 'tx.accepted' });
  t.equal(parseEventSubject('cheesechain.devnet.peer1.req.info'), undefined);
  t.equal(parseEventSubject('cheesechain.devnet.peer1.evt.nope'), undefined);
  t.throws(() => eventSubject('devnet', 'a.b', 'tip'), SubjectTokenError);
  t.throws(() => eventSubject('devnet', '>', 'tip'), { code: 'ERR_NATS_SUBJECT_TOKEN' });
  t.same(farmSubjects('regtest'), { work: 'cheesechain.regtest.farm.work', cancel: 'cheesechain.regtest.farm.cancel', report: 'cheesechain.regtest.farm.report', solutionPrefix: 'cheesechain.regtest.farm.solution' });
  t.equal(farmSolutionSubject('regtest', 'p'), 'cheesechain.regtest.farm.solution.p');
});

t.test('JSON encoding respects max_payload; decoding never throws', async (t) => {
  t.same(JSON.parse(new TextDecoder().decode(encodeJson({ a: 5n }))), { a: '5' }, 'bigints as decimal strings');
  t.throws(() => encodeJson({ s: 'x'.repeat(100) }, 50), PayloadTooLargeError);
  t.throws(() => encodeJson({ s: 'x'.repeat(100) }, 50), { code: 'ERR_NATS_PAYLOAD_TOO_LARGE', bytes: 108, maxPayload: 50 });
  t.same(decodeJson(new Uint8Array(), 10), { ok: true, value: {} });
  t.match(decodeJson(enc('{'), 10), { ok: false, message: /not UTF-8 JSON/ });
  t.match(decodeJson(new Uint8Array([0x7b, 0xff, 0x7d]), 10), { ok: false });
  t.match(decodeJson(enc('{"a":"0123456789"}'), 10), { ok: false, message: /exceeds 10 bytes/ });
});

t.test('a block event carries hashes and sizes, never the transactions', async (t) => {
  const genesis = genesisBlock(networkParams('regtest'));
  const entry = { hash: 'aa'.repeat(32), header: genesis.header, height: 0, chainWork: 2n };
  const e = { type: 'block-connected' as const, block: genesis, entry };
  t.equal(eventName(e), 'block.connected');
  const payload = eventPayload(e) as { size: number; txCount: number };
  t.equal(payload.size, blockSize(genesis));
  t.equal(payload.txCount, 1);
  const msg = eventMessage('block.connected', payload as never, { network: 'regtest', nodeId: 'n', seq: 1, time: 5 });
  t.ok(encodeJson(msg).length < 600, 'a few hundred bytes');
  t.equal(eventName({ type: 'tip-changed', tip: { hash: 'a', height: 1, chainWork: 255n }, previous: { hash: 'b', height: 0, chainWork: 1n }, reorgDepth: 0 }), 'tip');
  t.same(eventPayload({ type: 'tip-changed', tip: { hash: 'a', height: 1, chainWork: 255n }, previous: { hash: 'b', height: 0, chainWork: 1n }, reorgDepth: 0 }), {
    hash: 'a',
    height: 1,
    chainWork: 'ff',
    previous: { hash: 'b', height: 0 },
    reorgDepth: 0,
  });
});

t.test('request bodies are validated with exact messages', async (t) => {
  t.same(parseRequest('block', enc({ height: 3 })), { ok: true, body: { height: 3, summary: false } });
  t.same(parseRequest('account', enc({ key: 'AB'.repeat(32) })), { ok: true, body: { key: 'ab'.repeat(32) } });
  t.same(parseRequest('info', enc('null')), { ok: false, error: { code: 'bad-request', message: 'request body must be a JSON object' } });
  t.same(parseRequest('tx', enc({ txid: 1 })), { ok: false, error: { code: 'bad-request', message: 'txid must be a transaction id, 64 hex characters' } });
  t.match(parseRequest('submit', enc('x'.repeat(20_000))), { ok: false, error: { code: 'bad-json', message: /exceeds/ } });
});

t.test('an API failure becomes an internal error reply', async (t) => {
  const api = { info: async () => Promise.reject(new Error('no reply from chain within 10000 ms')) } as unknown as NodeApi;
  t.same(await answerRequest(api, 'info', new Uint8Array()), { ok: false, error: { code: 'internal', message: 'the peer failed to answer: no reply from chain within 10000 ms' } });
});

t.test('farm messages are validated field by field', async (t) => {
  const job = { type: 'farm/job', v: 1, jobId: 'p-1', slice: 0, slices: 1, header: '00'.repeat(80), target: 'ff'.repeat(32), solutionSubject: 'cheesechain.regtest.farm.solution.p', hops: 0 };
  t.same(parseFarmJob(job), job);
  t.equal(parseFarmJob({ ...job, header: '00'.repeat(79) }), undefined);
  t.equal(parseFarmJob({ ...job, target: 'xyz' }), undefined);
  t.equal(parseFarmJob({ ...job, slice: 256 }), undefined);
  t.equal(parseFarmJob({ ...job, solutionSubject: 'a b' }), undefined);
  t.equal(parseFarmJob({ ...job, type: 'farm/cancel' }), undefined);
  t.same(parseFarmCancel({ type: 'farm/cancel', jobId: 'p-1' }), { type: 'farm/cancel', v: 1, jobId: 'p-1' });
  t.equal(parseFarmCancel({ type: 'farm/cancel', jobId: 'p.1' }), undefined);
  t.equal(parseFarmSolution({ type: 'farm/solution', jobId: 'p-1', slice: 0, minerId: 'm', header: '00'.repeat(80), hashes: -1 }), undefined);
  t.ok(parseFarmSolution({ type: 'farm/solution', jobId: 'p-1', slice: 0, minerId: 'm', header: '00'.repeat(80), hashes: 5 }));
  t.ok(parseFarmReport({ type: 'farm/report', minerId: 'm', hashRate: 1.5, workers: 2, jobId: null, slice: null }));
  t.equal(parseFarmReport({ type: 'farm/report', minerId: 'm', hashRate: Infinity, workers: 2, jobId: null, slice: null }), undefined);
  t.equal(targetToHex(255n), '0'.repeat(62) + 'ff');
  t.equal(targetFromHex(targetToHex(12345n)), 12345n);
  t.throws(() => targetToHex(1n << 256n), RangeError);
});
