/**
 * Signature checks started ahead: verdicts started by `prefetch` are taken
 * by a later `verify` with the same txids (checked once, by a real pool of
 * worker threads), the rest are checked then, and the table stays bounded.
 */
import t from 'tap';
import { txid, type TransferTx } from '../../src/core/transaction.js';
import { verifyTransferSignature } from '../../src/core/validation.js';
import { SignaturePrefetch } from '../../src/workers/signature-prefetch.js';
import { VerifyPool, type SignatureVerifier } from '../../src/workers/verify-pool.js';
import { keyFromSeed, regtest, regtestId, transfer } from '../helpers/chain-builder.js';

const alice = keyFromSeed(1);
const bob = keyFromSeed(2);

/** `n` transfers, every third with a broken signature. */
function mixed(n: number): TransferTx[] {
  return Array.from({ length: n }, (_, i) => {
    const tx = transfer(regtest, alice, bob, 10n + BigInt(i), i);
    if (i % 3 !== 0) return tx;
    const signature = tx.signature.slice();
    signature[9]! ^= 1;
    return { ...tx, signature };
  });
}

/** A real pool that records how many transfers each call hands it. */
function countingPool(threads: number): { pool: SignatureVerifier; calls: number[] } {
  const inner = new VerifyPool({ networkId: regtestId, threads });
  const calls: number[] = [];
  return {
    calls,
    pool: {
      verify: (txs) => {
        calls.push(txs.length);
        return inner.verify(txs);
      },
      close: () => inner.close(),
    },
  };
}

t.test('verdicts started ahead are taken by verify with the txids: each signature is checked once', async (t) => {
  const { pool, calls } = countingPool(2);
  const prefetch = new SignaturePrefetch(pool);
  t.teardown(() => prefetch.close());
  const txs = mixed(90);
  const ids = txs.map(txid);
  prefetch.prefetch(txs.slice(0, 60), ids.slice(0, 60));
  t.equal(prefetch.size, 60);
  const got = await prefetch.verify(txs, ids);
  t.same(got, txs.map((tx) => verifyTransferSignature(tx, regtestId)), 'the same verdicts as the core rule, in order');
  t.ok(got.some((v) => v) && got.some((v) => !v), 'both verdicts occur');
  t.same(calls, [60, 30], 'the 60 started ahead were not checked again; the 30 others were checked at once');
  t.equal(prefetch.size, 0, 'taken verdicts are forgotten');
  prefetch.prefetch(txs.slice(0, 10), ids.slice(0, 10));
  prefetch.prefetch(txs.slice(0, 20), ids.slice(0, 20));
  t.same(calls.slice(2), [10, 10], 'a transfer already started is not started twice');
  t.same(await prefetch.verify(txs.slice(0, 5)), got.slice(0, 5), 'without txids: checked at once');
});

t.test('the table is bounded: past it nothing more is started ahead', async (t) => {
  const { pool, calls } = countingPool(0);
  const prefetch = new SignaturePrefetch(pool, 4);
  const txs = mixed(6);
  const ids = txs.map(txid);
  prefetch.prefetch(txs, ids);
  t.equal(prefetch.size, 4);
  t.same(await prefetch.verify(txs, ids), txs.map((tx) => verifyTransferSignature(tx, regtestId)));
  t.same(calls, [4, 2]);
  await prefetch.close();
});

t.test('a check that fails is reported to the verify that takes it, and nowhere else', async (t) => {
  const { pool } = countingPool(0);
  const prefetch = new SignaturePrefetch(pool);
  await pool.close();
  const txs = mixed(3);
  const ids = txs.map(txid);
  prefetch.prefetch(txs, ids);
  await t.rejects(prefetch.verify(txs, ids), /closed/);
  prefetch.prefetch(txs, ids);
  await t.rejects(prefetch.verify(txs, ids.slice(1)), RangeError, 'txids that do not match the transfers are a caller bug');
});
