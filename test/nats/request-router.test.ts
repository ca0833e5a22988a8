/**
 * The NATS bridge's request router alone: subjects to request kinds, and the
 * bound on requests answered at once (the bridge over a real nats-server is
 * tested in bridge.test.ts).
 */
import t from 'tap';
import { RequestRouter } from '../../src/nats/request-router.js';
import { nodeSubject, REQUEST_KINDS, requestSubject } from '../../src/nats/subjects.js';

const PREFIX = `${nodeSubject('regtest', 'peer1')}.req.`;

t.test('every request kind of the subject layout is routed to be answered', async (t) => {
  const router = new RequestRouter(PREFIX, 100);
  for (const kind of REQUEST_KINDS) {
    const subject = requestSubject('regtest', 'peer1', kind);
    t.equal(router.kindOf(subject), kind);
    t.same(router.route(subject, true), { action: 'answer', kind }, subject);
  }
  t.equal(router.inFlight, REQUEST_KINDS.length);
});

t.test('an unknown kind is refused bad-request; a request nobody waits for is ignored', async (t) => {
  const router = new RequestRouter(PREFIX, 1);
  t.same(router.route(`${PREFIX}mine`, true), { action: 'refuse', error: { code: 'bad-request', message: `unknown request kind; one of ${REQUEST_KINDS.join(', ')}` } });
  t.equal(router.kindOf(`${nodeSubject('regtest', 'peer2')}.req.info`), undefined, "another peer's subject names no kind here");
  t.equal(router.kindOf(`${PREFIX}info.extra`), undefined);
  t.same(router.route(`${PREFIX}info`, false), { action: 'ignore' });
  t.equal(router.inFlight, 0, 'neither took a slot');
});

t.test('at most maxConcurrent requests are answered at once; more are refused busy until one is done', async (t) => {
  const router = new RequestRouter(PREFIX, 2);
  t.match(router.route(`${PREFIX}info`, true), { action: 'answer' });
  t.match(router.route(`${PREFIX}peers`, true), { action: 'answer' });
  t.same(router.route(`${PREFIX}info`, true), { action: 'refuse', error: { code: 'busy', message: 'more than 2 requests in flight; retry later' } });
  t.equal(router.inFlight, 2, 'a refusal takes no slot');
  router.done();
  t.match(router.route(`${PREFIX}tx`, true), { action: 'answer', kind: 'tx' });
  router.done();
  router.done();
  router.done();
  t.equal(router.inFlight, 0, 'done never goes below zero');
  t.throws(() => new RequestRouter(PREFIX, 0), new RangeError('maxConcurrent must be a positive integer'));
});
