/**
 * `AccountOverlay`: copy-on-write account state over a reader, recording for
 * each touched account its value before the first change (`previous`, the
 * undo data of a block) and after (`changed`, what a connect writes).
 */
import t from 'tap';
import { keyPairFromSeed } from '../../src/core/ed25519.js';
import { toHex } from '../../src/core/encoding.js';
import { networkId } from '../../src/core/genesis.js';
import { MAX_MONEY, NETWORKS } from '../../src/core/params.js';
import { AccountOverlay, EMPTY_ACCOUNT, type Account, type AccountReader } from '../../src/core/state.js';
import { signTransfer, type CoinbaseTx, type TransferTx } from '../../src/core/transaction.js';

const id = networkId(NETWORKS.regtest);
const alice = keyPairFromSeed(new Uint8Array(32).fill(21));
const bob = keyPairFromSeed(new Uint8Array(32).fill(22));
const A = toHex(alice.publicKey);
const B = toHex(bob.publicKey);

/** A reader that returns frozen copies, so that any write through the overlay to the base would throw. */
class Base implements AccountReader {
  constructor(private readonly map: Map<string, Account>) {}
  getAccount(key: string): Account | undefined {
    const a = this.map.get(key);
    return a && Object.freeze({ ...a });
  }
}

// The overlay does not check signatures (checkBlock does): unsigned-looking transfers are fine here.
function transfer(from: Uint8Array, to: Uint8Array, amount: bigint, nonce: number, fee = 0n): TransferTx {
  return { type: 'transfer', sender: from, recipient: to, amount, fee, nonce, signature: new Uint8Array(64) };
}

t.test('a transfer records previous and changed for sender and recipient', async (t) => {
  const base = new Base(new Map([[A, { balance: 1_000n, nonce: 3 }]]));
  const o = new AccountOverlay(base);
  t.same(o.apply(transfer(alice.publicKey, bob.publicKey, 100n, 3, 2n)), { ok: true });
  t.same(o.changed, new Map([[A, { balance: 898n, nonce: 4 }], [B, { balance: 100n, nonce: 0 }]]));
  t.same(o.previous, new Map([[A, { balance: 1_000n, nonce: 3 }], [B, undefined]]), 'bob did not exist: undefined');
  t.same(o.getAccount(A), { balance: 898n, nonce: 4 }, 'reads see the changes');
  t.same(base.getAccount(A), { balance: 1_000n, nonce: 3 }, 'the base is untouched');
});

t.test('previous keeps the value before the first change only', async (t) => {
  const o = new AccountOverlay(new Base(new Map([[A, { balance: 1_000n, nonce: 0 }]])));
  for (let nonce = 0; nonce < 3; nonce++) t.same(o.apply(transfer(alice.publicKey, bob.publicKey, 10n, nonce, 1n)), { ok: true });
  t.same(o.previous.get(A), { balance: 1_000n, nonce: 0 });
  t.equal(o.previous.get(B), undefined);
  t.ok(o.previous.has(B), 'recorded as absent, not missing');
  t.same(o.changed.get(A), { balance: 967n, nonce: 3 });
  t.same(o.changed.get(B), { balance: 30n, nonce: 0 });
});

t.test('a self-transfer costs only the fee and bumps the nonce once', async (t) => {
  const o = new AccountOverlay(new Base(new Map([[A, { balance: 500n, nonce: 7 }]])));
  t.same(o.apply(transfer(alice.publicKey, alice.publicKey, 200n, 7, 3n)), { ok: true });
  t.same(o.getAccount(A), { balance: 497n, nonce: 8 });
  t.same(o.changed, new Map([[A, { balance: 497n, nonce: 8 }]]), 'one account changed');
  t.same(o.previous, new Map([[A, { balance: 500n, nonce: 7 }]]));
  t.match(o.apply(transfer(alice.publicKey, alice.publicKey, 495n, 8, 3n)), { ok: false, code: 'insufficient-balance' }, 'amount + fee must be held even to pay oneself');
  t.same(o.apply(transfer(alice.publicKey, alice.publicKey, 494n, 8, 3n)), { ok: true }, 'exactly amount + fee');
  t.same(o.getAccount(A), { balance: 494n, nonce: 9 });
});

t.test('a rejected transaction changes nothing', async (t) => {
  const o = new AccountOverlay(new Base(new Map([[A, { balance: 50n, nonce: 0 }]])));
  t.match(o.apply(transfer(alice.publicKey, bob.publicKey, 50n, 0, 1n)), { ok: false, code: 'insufficient-balance' });
  t.match(o.apply(transfer(alice.publicKey, bob.publicKey, 1n, 1)), { ok: false, code: 'bad-nonce' });
  t.equal(o.changed.size, 0);
  t.equal(o.previous.size, 0);
});

t.test('a coinbase credits its recipient, keeping the nonce; MAX_MONEY bounds every balance', async (t) => {
  const o = new AccountOverlay(new Base(new Map([[A, { balance: 10n, nonce: 4 }]])));
  const cb: CoinbaseTx = { type: 'coinbase', recipient: alice.publicKey, amount: 90n, height: 1 };
  t.same(o.apply(cb), { ok: true });
  t.same(o.getAccount(A), { balance: 100n, nonce: 4 });
  t.same(o.previous.get(A), { balance: 10n, nonce: 4 });
  const full = new AccountOverlay(new Base(new Map([[A, { balance: MAX_MONEY, nonce: 0 }], [B, { balance: MAX_MONEY - 5n, nonce: 0 }]])));
  t.match(full.apply({ ...cb, amount: 1n }), { ok: false, code: 'balance-overflow' });
  t.same(full.apply(transfer(alice.publicKey, bob.publicKey, 5n, 0)), { ok: true }, 'up to MAX_MONEY exactly');
  t.match(full.apply(transfer(alice.publicKey, bob.publicKey, 1n, 1)), { ok: false, code: 'balance-overflow' });
});

t.test('overlays stack: an overlay over an overlay reads through and undoes to the middle layer', async (t) => {
  const base = new Base(new Map([[A, { balance: 100n, nonce: 0 }]]));
  const first = new AccountOverlay(base);
  first.apply(transfer(alice.publicKey, bob.publicKey, 10n, 0));
  const second = new AccountOverlay(first);
  t.same(second.apply(transfer(bob.publicKey, alice.publicKey, 4n, 0)), { ok: true });
  t.same(second.previous, new Map([[B, { balance: 10n, nonce: 0 }], [A, { balance: 90n, nonce: 1 }]]));
  t.same(second.getAccount(A), { balance: 94n, nonce: 1 });
  t.same(first.getAccount(A), { balance: 90n, nonce: 1 }, 'the middle layer is untouched');
  t.same(EMPTY_ACCOUNT, { balance: 0n, nonce: 0 });
  t.ok(Object.isFrozen(EMPTY_ACCOUNT));
});

t.test('a real signed transfer applies the same way', async (t) => {
  const signed = signTransfer(id, { recipient: bob.publicKey, amount: 1n, fee: 1n, nonce: 0 }, alice.secretKey);
  const o = new AccountOverlay(new Base(new Map([[A, { balance: 2n, nonce: 0 }]])));
  t.same(o.apply(signed), { ok: true });
  t.same(o.getAccount(A), { balance: 0n, nonce: 1 });
});
