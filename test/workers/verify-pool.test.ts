/**
 * The signature verification pool: real piscina worker threads running the
 * core's `verifyTransferSignature`, agreeing with it transfer by transfer.
 */
import t from 'tap';
import type { TransferTx } from '../../src/core/transaction.js';
import { verifyTransferSignature } from '../../src/core/validation.js';
import { MIN_POOL_BATCH, VerifyPool } from '../../src/workers/verify-pool.js';
import { keyFromSeed, regtest, regtestId, transfer } from '../helpers/chain-builder.js';

const alice = keyFromSeed(1);
const bob = keyFromSeed(2);

/** `n` transfers, every third with a broken signature, every seventh signed for another network's bytes (a changed amount). */
function mixed(n: number): TransferTx[] {
  return Array.from({ length: n }, (_, i) => {
    const tx = transfer(regtest, alice, bob, 10n + BigInt(i), i);
    if (i % 3 === 0) {
      const signature = tx.signature.slice();
      signature[5]! ^= 1;
      return { ...tx, signature };
    }
    return i % 7 === 0 ? { ...tx, amount: tx.amount + 1n } : tx;
  });
}

t.test('worker threads give the same verdicts as the core rule, in order', async (t) => {
  const pool = new VerifyPool({ networkId: regtestId, threads: 2 });
  t.teardown(() => pool.close());
  const txs = mixed(160);
  const got = await pool.verify(txs);
  t.same(got, txs.map((tx) => verifyTransferSignature(tx, regtestId)));
  t.ok(got.some((v) => v) && got.some((v) => !v), 'both verdicts occur');
});

t.test('small batches and a pool of 0 threads verify on the calling thread', async (t) => {
  const inline = new VerifyPool({ networkId: regtestId, threads: 0 });
  const txs = mixed(MIN_POOL_BATCH * 2);
  t.same(await inline.verify(txs), txs.map((tx) => verifyTransferSignature(tx, regtestId)));
  await inline.close();
  await t.rejects(inline.verify(txs), /closed/);
});

t.test('options are checked', async (t) => {
  t.throws(() => new VerifyPool({ networkId: regtestId, threads: -1 }), /options.threads must be an integer from 0 to 64/);
  t.throws(() => new VerifyPool({ networkId: new Uint8Array(3) }), /options.networkId must be 32 bytes/);
});
