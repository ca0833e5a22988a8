import t from 'tap';
import { checkBlock, checkHeaderContext } from '../../src/core/validation.js';
import { NETWORKS } from '../../src/core/params.js';
import { MemoryBlockStore } from '../../src/store/memory-store.js';
import { encodeTx, signTransfer } from '../../src/core/transaction.js';
import { toHex } from '../../src/core/encoding.js';
import { buildChain, keyFromSeed, newKey, regtest, regtestId, storeIdentity, transfer } from '../helpers/chain-builder.js';
import { blockStoreSuite } from './block-store.suite.js';

blockStoreSuite(t, 'MemoryBlockStore', () => new MemoryBlockStore());

t.test('MemoryBlockStore: reopening continues from its tip; another network is refused', async (t) => {
  const store = new MemoryBlockStore();
  await store.open(storeIdentity(regtest));
  const { blocks } = buildChain(regtest, 2);
  for (const b of blocks) await store.connectBlock(b.entry, b.block, b.changes, b.undo);
  await store.close();
  await t.rejects(store.open(storeIdentity(NETWORKS.devnet)), { name: 'StoreError', code: 'ERR_STORE', reason: 'wrong-network', message: /regtest.*devnet/ });
  await store.open(storeIdentity(regtest));
  t.equal(store.getTip().hash, blocks[1]!.entry.hash);
  await store.close();
});

t.test('chain builder: its blocks pass checkBlock, checkHeaderContext and connectTransactions', async (t) => {
  const { blocks, builder } = buildChain(regtest, 12, { transfersPerBlock: 2 });
  for (const b of blocks) {
    const h = b.entry.height;
    t.same(checkBlock(b.block, regtest, regtestId), { ok: true }, `checkBlock at ${h}`);
    t.same(checkHeaderContext(b.block.header, builder.contextFor(h), regtest), { ok: true }, `checkHeaderContext at ${h}`);
  }
  // connectTransactions is applied by the builder itself (it throws on a rejection).
  t.equal(blocks[11]!.block.txs.length, 3);
  t.equal(builder.tip.height, 12);
});

t.test('chain builder: its fast signer gives the same transfers as signTransfer (tweetnacl)', async (t) => {
  for (let i = 0; i < 20; i++) {
    const from = i % 2 ? newKey() : keyFromSeed(i);
    const to = newKey();
    const fast = transfer(regtest, from, to, BigInt(1 + i * 1_000_003), i * 7, BigInt(i));
    const nacl = signTransfer(regtestId, { recipient: to.publicKey, amount: BigInt(1 + i * 1_000_003), fee: BigInt(i), nonce: i * 7 }, from.secretKey);
    t.equal(toHex(encodeTx(fast)), toHex(encodeTx(nacl)), `transfer ${i}`);
  }
});
