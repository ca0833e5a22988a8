/**
 * One ed25519 verification rule (design "Consensus"): the
 * node's path (`verifySignature`: pre-checks + OpenSSL through node:crypto)
 * and the reference path (`verifySignatureTweetnacl`: the same pre-checks +
 * tweetnacl) must accept and reject exactly the same signatures.
 *
 * - edge vectors: RFC 8032 §7.1, non-canonical S, small-order and mixed-order
 *   public keys, non-canonical keys and R, wrong lengths;
 * - proof that the pre-checks matter: raw tweetnacl and raw OpenSSL disagree
 *   on S ≥ L;
 * - the small-order y values hard-coded in `src/core/ed25519.ts`, checked
 *   against the torsion subgroup derived here with a tiny bigint Edwards
 *   implementation;
 * - 10,000 seeded random cases (valid signatures, flipped bits in message,
 *   signature and key, random keys and signatures; `ed25519-agreement.ts`),
 *   split over this file (shard 1) and `ed25519-agreement-{2,3,4,5}.test.ts`,
 *   because tweetnacl needs several milliseconds per verification.
 */
import t, { type Test } from 'tap';
import { createHash, createPublicKey, verify as nodeVerify } from 'node:crypto';
import nacl from 'tweetnacl';
import {
  ED25519_L,
  SMALL_ORDER_Y,
  keyPairFromSeed,
  precheckSignature,
  sign,
  verifySignature,
  verifySignatureTweetnacl,
} from '../../src/core/ed25519.js';
import { SPKI_PREFIX, SeededRandom, agreementShardTest, flipBit, scalarToLe } from './ed25519-agreement.js';

// ---------------------------------------------------------------------------
// A tiny twisted Edwards implementation (RFC 8032 §5.1), bigint, test only
// ---------------------------------------------------------------------------

const P = (1n << 255n) - 19n;
const mod = (a: bigint): bigint => ((a % P) + P) % P;
function powMod(b: bigint, e: bigint): bigint {
  let r = 1n;
  b = mod(b);
  while (e > 0n) {
    if (e & 1n) r = (r * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return r;
}
const inv = (a: bigint): bigint => powMod(a, P - 2n);
const D = mod(-121665n * inv(121666n));
const SQRT_M1 = powMod(2n, (P - 1n) / 4n);

/** A point in extended coordinates (X:Y:Z:T), x = X/Z, y = Y/Z, xy = T/Z. */
interface Point {
  X: bigint;
  Y: bigint;
  Z: bigint;
  T: bigint;
}
const IDENTITY: Point = { X: 0n, Y: 1n, Z: 1n, T: 0n };

function add(p: Point, q: Point): Point {
  // add-2008-hwcd-3 for a = -1; complete because d is not a square.
  const a = mod((p.Y - p.X) * (q.Y - q.X));
  const b = mod((p.Y + p.X) * (q.Y + q.X));
  const c = mod(p.T * 2n * D * q.T);
  const d = mod(p.Z * 2n * q.Z);
  const e = b - a;
  const f = d - c;
  const g = d + c;
  const h = b + a;
  return { X: mod(e * f), Y: mod(g * h), Z: mod(f * g), T: mod(e * h) };
}
function mul(p: Point, k: bigint): Point {
  let r = IDENTITY;
  let q = p;
  while (k > 0n) {
    if (k & 1n) r = add(r, q);
    q = add(q, q);
    k >>= 1n;
  }
  return r;
}
function affine(p: Point): { x: bigint; y: bigint } {
  const zi = inv(p.Z);
  return { x: mod(p.X * zi), y: mod(p.Y * zi) };
}
function isIdentity(p: Point): boolean {
  return mod(p.X) === 0n && mod(p.Y - p.Z) === 0n;
}
/** x for y with the given sign (low bit of x), or undefined when y is not on the curve. */
function recoverX(y: bigint, sign: number): bigint | undefined {
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  const x2 = mod(u * inv(v));
  let x = powMod(x2, (P + 3n) / 8n);
  if (mod(x * x - x2) !== 0n) x = mod(x * SQRT_M1);
  if (mod(x * x - x2) !== 0n) return undefined;
  if (Number(x & 1n) !== sign) x = mod(-x);
  return x;
}
function pointFromY(y: bigint, sign: number): Point | undefined {
  const x = recoverX(y, sign);
  if (x === undefined) return undefined;
  return { X: x, Y: mod(y), Z: 1n, T: mod(x * y) };
}
/** RFC 8032 §5.1.2 encoding: y little-endian with the low bit of x in bit 255. */
function encodePoint(p: Point): Uint8Array {
  const { x, y } = affine(p);
  return encodeY(y, Number(x & 1n));
}
function encodeY(y: bigint, signBit: number): Uint8Array {
  const out = scalarToLe(y);
  if (signBit) out[31]! |= 0x80;
  return out;
}
function leToBigInt(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  return v;
}
const BASE = pointFromY(mod(4n * inv(5n)), 0)!;

function sha512Scalar(...parts: Uint8Array[]): bigint {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return leToBigInt(h.digest()) % ED25519_L;
}
/** The secret scalar of an RFC 8032 seed (SHA-512, first half, clamped). */
function secretScalar(seed: Uint8Array): bigint {
  const h = Uint8Array.from(createHash('sha512').update(seed).digest().subarray(0, 32));
  h[0]! &= 248;
  h[31]! &= 127;
  h[31]! |= 64;
  return leToBigInt(h);
}

/** Order of a torsion point: the least n in {1, 2, 4, 8} with [n]T = identity. */
function torsionOrder(p: Point): number {
  for (const n of [1, 2, 4, 8]) if (isIdentity(mul(p, BigInt(n)))) return n;
  throw new Error('not a torsion point');
}

/** The 8 points of the torsion subgroup, derived from [L]P for points P until one has order 8. */
function deriveTorsion(): Point[] {
  for (let y = 2n; y < 1000n; y++) {
    const p = pointFromY(y, 0);
    if (!p) continue;
    const t8 = mul(p, ED25519_L);
    if (torsionOrder(t8) !== 8) continue;
    const points: Point[] = [];
    let acc = IDENTITY;
    for (let i = 0; i < 8; i++) {
      points.push(acc);
      acc = add(acc, t8);
    }
    return points;
  }
  throw new Error('no point with an order-8 component found');
}

// ---------------------------------------------------------------------------
// Raw libraries, without the pre-checks
// ---------------------------------------------------------------------------

type RawOutcome = boolean | 'throws';
function rawTweetnacl(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): RawOutcome {
  try {
    return nacl.sign.detached.verify(message, signature, publicKey);
  } catch {
    return 'throws';
  }
}
function rawOpenssl(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): RawOutcome {
  try {
    const key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
    return nodeVerify(null, message, key, signature);
  } catch {
    return 'throws';
  }
}

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));

/** An edge vector: both paths must agree, and match `expected` when given. */
interface EdgeCase {
  name: string;
  message: Uint8Array;
  signature: Uint8Array;
  publicKey: Uint8Array;
  expected?: boolean;
}

// ---------------------------------------------------------------------------
// Vectors
// ---------------------------------------------------------------------------

/** RFC 8032 §7.1 (Ed25519): TEST 1, 2, 3, 1024 and SHA(abc). */
const RFC8032_VECTORS = [
  {
    name: 'TEST 1',
    secretKey: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    name: 'TEST 2',
    secretKey: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    name: 'TEST 3',
    secretKey: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    publicKey: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature: '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
  {
    name: 'TEST 1024',
    secretKey: 'f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5',
    publicKey: '278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e',
    message: [
      '08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1',
      'e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d',
      '658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a',
      '7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e',
      '06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc10',
      '3b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1',
      '85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594e1a2297acbbb39d',
      '502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270',
      '88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089b',
      'eccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba',
      'b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af8969b',
      'e3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7',
      '51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988d',
      'cda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df',
      'f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7',
      '984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4',
      '88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac09',
      '43bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f',
      'b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f161',
      '0e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d',
      'b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8ca',
      'c60c905c15fc910840b94c00a0b9d0',
    ].join(''),
    signature: '0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03',
  },
  {
    name: 'TEST SHA(abc)',
    secretKey: '833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42',
    publicKey: 'ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf',
    message: 'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    signature: 'dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704',
  },
] as const;

/** BoringSSL's S-bound vectors (as collected by Wycheproof's ed25519 test generator). */
const S_BOUND_VECTORS = [
  {
    name: 'S just under L (BoringSSL)',
    publicKey: '100fdf47fb94f1536a4f7c3fda27383fa03375a8f527c537e6f1703c47f94f86',
    message: '124e583f8b8eca58bb29c271b41d36986bbc45541f8e51f9cb0133eca447601e',
    signature: 'dac119d6ca87fc59ae611c157048f4d4fc932a149dbe20ec6effd1436abf83ea05c7df0fef06147241259113909bc71bd3c53ba4464ffcad3c0968f2ffffff0f',
    expected: true,
  },
  {
    name: 'S just above L (BoringSSL)',
    publicKey: '100fdf47fb94f1536a4f7c3fda27383fa03375a8f527c537e6f1703c47f94f86',
    message: '6a0bc2b0057cedfc0fa2e3f7f7d39279b30f454a69dfd1117c758d86b19d85e0',
    signature: '0971f86d2c9c78582524a103cb9cf949522ae528f8054dc20107d999be673ff4e25ebf2f2928766b1248bec6e91697775f8446639ede46ad4df4053000000010',
    expected: false,
  },
] as const;

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

/** Asserts that both paths agree (and match `expected` when given); returns the verdict. */
function checkAgreement(t: Test, c: EdgeCase): boolean {
  const node = verifySignature(c.message, c.signature, c.publicKey);
  const tweet = verifySignatureTweetnacl(c.message, c.signature, c.publicKey);
  t.equal(node, tweet, `${c.name}: node path and tweetnacl path agree`);
  if (c.expected !== undefined) t.equal(node, c.expected, `${c.name}: ${c.expected ? 'accepted' : 'rejected'}`);
  return node;
}

const torsion = deriveTorsion();

t.test('RFC 8032 §7.1 vectors: tweetnacl derives the key and the signature, both paths accept', async (t) => {
  for (const v of RFC8032_VECTORS) {
    const kp = keyPairFromSeed(hex(v.secretKey));
    t.equal(Buffer.from(kp.publicKey).toString('hex'), v.publicKey, `${v.name}: public key`);
    t.equal(Buffer.from(sign(hex(v.message), kp.secretKey)).toString('hex'), v.signature, `${v.name}: signature`);
    checkAgreement(t, { name: v.name, message: hex(v.message), signature: hex(v.signature), publicKey: hex(v.publicKey), expected: true });
    // and a one-bit change to the message is rejected by both
    const flipped = hex(v.message).length > 0 ? flipBit(hex(v.message), 0) : Uint8Array.of(0);
    checkAgreement(t, { name: `${v.name} altered message`, message: flipped, signature: hex(v.signature), publicKey: hex(v.publicKey), expected: false });
  }
});

t.test('S bound: S just under L verifies, S just above L is rejected', async (t) => {
  for (const v of S_BOUND_VECTORS) {
    checkAgreement(t, { name: v.name, message: hex(v.message), signature: hex(v.signature), publicKey: hex(v.publicKey), expected: v.expected });
  }
  t.equal(precheckSignature(hex(S_BOUND_VECTORS[1].publicKey), hex(S_BOUND_VECTORS[1].signature)), 'non-canonical-s');
});

t.test('non-canonical S (S + kL, S = L, high bits) is rejected by both paths; raw tweetnacl would accept S + L', async (t) => {
  const v = RFC8032_VECTORS[2];
  const message = hex(v.message);
  const publicKey = hex(v.publicKey);
  const valid = hex(v.signature);
  const s = leToBigInt(valid.subarray(32));
  let rawDisagreements = 0;
  for (let k = 1n; s + k * ED25519_L < 1n << 256n; k++) {
    const signature = Uint8Array.from(valid);
    signature.set(scalarToLe(s + k * ED25519_L), 32);
    checkAgreement(t, { name: `S + ${k}L`, message, signature, publicKey, expected: false });
    t.equal(precheckSignature(publicKey, signature), 'non-canonical-s', `S + ${k}L fails the S < L pre-check`);
    // The same point [S]B: tweetnacl alone accepts it, OpenSSL checks S < L itself.
    t.equal(rawTweetnacl(message, signature, publicKey), true, `raw tweetnacl accepts S + ${k}L`);
    t.equal(rawOpenssl(message, signature, publicKey), false, `raw OpenSSL rejects S + ${k}L`);
    rawDisagreements++;
  }
  t.ok(rawDisagreements >= 1, `raw libraries disagree on ${rawDisagreements} non-canonical S values: the pre-checks matter`);
  for (const [name, sValue] of [
    ['S = L', ED25519_L],
    ['S = L - 1', ED25519_L - 1n],
    ['S = 2^255 + S', s + (1n << 255n)],
    ['S = 2^256 - 1', (1n << 256n) - 1n],
    ['S = 0', 0n],
  ] as const) {
    const signature = Uint8Array.from(valid);
    signature.set(scalarToLe(sValue), 32);
    checkAgreement(t, { name, message, signature, publicKey, expected: false });
  }
});

t.test('the hard-coded small-order y values are exactly the torsion subgroup', async (t) => {
  t.equal(torsion.length, 8);
  const orders = torsion.map(torsionOrder).sort((a, b) => a - b);
  t.same(orders, [1, 2, 4, 4, 8, 8, 8, 8], 'one identity, one point of order 2, two of order 4, four of order 8');
  const derivedY = new Set(torsion.map((p) => affine(p).y));
  t.same([...derivedY].sort(), [...SMALL_ORDER_Y].sort(), 'derived y set equals SMALL_ORDER_Y');
  t.equal(SMALL_ORDER_Y.size, 5);
  for (const y of SMALL_ORDER_Y) {
    for (const signBit of [0, 1]) {
      const p = pointFromY(y, signBit);
      t.ok(p, `y = ${y.toString(16)} is on the curve`);
      if (p) t.ok(isIdentity(mul(p, 8n)), `[8](y = ${y.toString(16)}, sign ${signBit}) is the identity`);
    }
  }
  // And a point of large order is not in the list: [8]B is not the identity.
  t.notOk(isIdentity(mul(BASE, 8n)));
  t.ok(isIdentity(mul(BASE, ED25519_L)), 'the base point has order L');
  // The local arithmetic agrees with tweetnacl: RFC 8032 TEST 1's public key is [a]B.
  const v = RFC8032_VECTORS[0];
  t.equal(Buffer.from(encodePoint(mul(BASE, secretScalar(hex(v.secretKey))))).toString('hex'), v.publicKey, 'local [a]B encodes to the RFC public key');
});

t.test('small-order public keys (all 8, both sign bits, non-canonical encodings) are rejected by both paths', async (t) => {
  // R = [S]B makes the cofactorless equation [S]B = R + [k]A hold whenever [k]A
  // is the identity: for A = identity for every message, for the other
  // torsion points for every message whose k is a multiple of A's order.
  const rng = new SeededRandom('small-order');
  let rawAccepted = 0;
  for (const point of torsion) {
    const encodings = [encodePoint(point), flipBit(encodePoint(point), 255)];
    const { y } = affine(point);
    if (y + P < 1n << 255n) encodings.push(encodeY(y + P, 0), encodeY(y + P, 1));
    for (const publicKey of encodings) {
      const expectedPrecheck = leToBigInt(publicKey) % (1n << 255n) >= P ? 'non-canonical-key' : 'small-order-key';
      t.equal(precheckSignature(publicKey, new Uint8Array(64)), expectedPrecheck, `key ${Buffer.from(publicKey).toString('hex')}: ${expectedPrecheck}`);
      for (let i = 0; i < 8; i++) {
        const s = leToBigInt(rng.bytes(32)) % ED25519_L;
        const signature = new Uint8Array(64);
        signature.set(encodePoint(mul(BASE, s)), 0);
        signature.set(scalarToLe(s), 32);
        const message = rng.bytes(16);
        checkAgreement(t, { name: `small-order key ${Buffer.from(publicKey).toString('hex').slice(0, 12)}… case ${i}`, message, signature, publicKey, expected: false });
        if (rawTweetnacl(message, signature, publicKey) === true) rawAccepted++;
      }
    }
  }
  t.ok(rawAccepted > 0, `raw tweetnacl accepts ${rawAccepted} of these forgeries without the pre-check`);
});

t.test('non-canonical public keys (y ≥ p) are rejected by both paths', async (t) => {
  const valid = hex(RFC8032_VECTORS[0].signature);
  for (let y = P; y < 1n << 255n; y++) {
    for (const signBit of [0, 1]) {
      const publicKey = encodeY(y, signBit);
      t.equal(precheckSignature(publicKey, valid), 'non-canonical-key');
      checkAgreement(t, { name: `key y = p + ${y - P}, sign ${signBit}`, message: new Uint8Array(0), signature: valid, publicKey, expected: false });
    }
  }
  // A key that is not a curve point at all passes the pre-checks and fails in both libraries.
  let offCurve = 2n;
  while (pointFromY(offCurve, 0)) offCurve++;
  checkAgreement(t, { name: 'key off the curve', message: new Uint8Array(0), signature: valid, publicKey: encodeY(offCurve, 0), expected: false });
});

t.test('non-canonical R is rejected by both paths; the canonical form of the same R verifies', async (t) => {
  // With R = identity and a known secret scalar a, S = k·a makes
  // [S]B = R + [k]A hold; k depends on the R bytes, so S is recomputed per encoding.
  const seedBytes = new SeededRandom('non-canonical-r').bytes(32);
  const a = secretScalar(seedBytes);
  const publicKey = keyPairFromSeed(seedBytes).publicKey;
  const message = Uint8Array.from(Buffer.from('non-canonical R'));
  const forge = (rBytes: Uint8Array): Uint8Array => {
    const k = sha512Scalar(rBytes, publicKey, message);
    const signature = new Uint8Array(64);
    signature.set(rBytes, 0);
    signature.set(scalarToLe((k * a) % ED25519_L), 32);
    return signature;
  };
  checkAgreement(t, { name: 'R = identity, canonical', message, signature: forge(encodeY(1n, 0)), publicKey, expected: true });
  checkAgreement(t, { name: 'R = identity encoded as y = p + 1', message, signature: forge(encodeY(P + 1n, 0)), publicKey, expected: false });
  checkAgreement(t, { name: 'R = identity with the sign bit set (x = -0)', message, signature: forge(encodeY(1n, 1)), publicKey, expected: false });
  // R with y ≥ p for every value, against a random valid signature's S
  const valid = hex(RFC8032_VECTORS[1].signature);
  for (let y = P; y < 1n << 255n; y++) {
    const signature = Uint8Array.from(valid);
    signature.set(encodeY(y, 0), 0);
    checkAgreement(t, { name: `R y = p + ${y - P}`, message: hex(RFC8032_VECTORS[1].message), signature, publicKey: hex(RFC8032_VECTORS[1].publicKey), expected: false });
  }
});

t.test('mixed-order keys and R: both paths apply the same cofactorless equation', async (t) => {
  const rng = new SeededRandom('mixed-order');
  let accepted = 0;
  let rejected = 0;
  for (let i = 0; i < 48; i++) {
    const seedBytes = rng.bytes(32);
    const a = secretScalar(seedBytes);
    const torsionPoint = torsion[1 + (i % 7)]!;
    const order = BigInt(torsionOrder(torsionPoint));
    const mixedKey = encodePoint(add(mul(BASE, a), torsionPoint));
    const r = leToBigInt(rng.bytes(32)) % ED25519_L;
    const rBytes = encodePoint(mul(BASE, r));
    const message = rng.bytes(24);
    // Key A + T, signed with a: [S]B - [k](A + T) = R - [k]T, which is R iff k ≡ 0 (mod ord T).
    const k = sha512Scalar(rBytes, mixedKey, message);
    const signature = new Uint8Array(64);
    signature.set(rBytes, 0);
    signature.set(scalarToLe((r + k * a) % ED25519_L), 32);
    const expected = k % order === 0n;
    t.equal(precheckSignature(mixedKey, signature), 'ok', 'a mixed-order key passes the pre-checks');
    if (checkAgreement(t, { name: `mixed-order key (T of order ${order}) case ${i}`, message, signature, publicKey: mixedKey, expected })) accepted++;
    else rejected++;
    // R + T: the equation gives R, whose encoding differs from that of R + T.
    const honestKey = encodePoint(mul(BASE, a));
    const mixedR = encodePoint(add(mul(BASE, r), torsionPoint));
    const k2 = sha512Scalar(mixedR, honestKey, message);
    const signature2 = new Uint8Array(64);
    signature2.set(mixedR, 0);
    signature2.set(scalarToLe((r + k2 * a) % ED25519_L), 32);
    checkAgreement(t, { name: `mixed-order R case ${i}`, message, signature: signature2, publicKey: honestKey, expected: false });
  }
  t.ok(accepted > 0 && rejected > 0, `mixed-order keys: ${accepted} accepted, ${rejected} rejected, identically by both`);
});

t.test('wrong lengths are rejected by both paths without throwing (raw tweetnacl throws)', async (t) => {
  const v = RFC8032_VECTORS[1];
  const message = hex(v.message);
  const sig = hex(v.signature);
  const key = hex(v.publicKey);
  const cases: [string, Uint8Array, Uint8Array][] = [
    ['31-byte key', sig, key.subarray(0, 31)],
    ['33-byte key', sig, Uint8Array.from([...key, 0])],
    ['empty key', sig, new Uint8Array(0)],
    ['63-byte signature', sig.subarray(0, 63), key],
    ['65-byte signature', Uint8Array.from([...sig, 0]), key],
    ['empty signature', new Uint8Array(0), key],
  ];
  for (const [name, signature, publicKey] of cases) {
    t.equal(precheckSignature(publicKey, signature), 'bad-length', `${name}: bad-length`);
    checkAgreement(t, { name, message, signature, publicKey, expected: false });
    t.equal(rawTweetnacl(message, signature, publicKey), 'throws', `${name}: raw tweetnacl throws`);
  }
});

agreementShardTest(t, 0);
