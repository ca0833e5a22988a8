/**
 * SipHash-2-4 against the reference vectors of Aumasson and Bernstein
 * (key 00 01 … 0f, messages 00, 00 01, …: the first 16 of the 64).
 */
import t from 'tap';
import { sipHash24, sipHashKey } from '../../src/core/siphash.js';

const VECTORS = [
  '726fdb47dd0e0e31', '74f839c593dc67fd', '0d6c8009d9a94f5a', '85676696d7fb7e2d',
  'cf2794e0277187b7', '18765564cd99a68d', 'cbc9466e58fee3ce', 'ab0200f58b01d137',
  '93f5f5799a932462', '9e0082df0ba9e4b0', '7a5dbbc594ddb9f3', 'f4b32f46226bada7',
  '751e8fbc860ee5fb', '14ea5627c0843d90', 'f723ca908e7af2ee', 'a129ca6149be45e5',
];

const key = sipHashKey(Uint8Array.from({ length: 16 }, (_, i) => i));

t.test('matches the reference vectors for messages of 0 to 15 bytes', async (t) => {
  VECTORS.forEach((expected, len) => {
    const { hi, lo } = sipHash24(key, Uint8Array.from({ length: len }, (_, i) => i));
    t.equal(hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0'), expected, `${len} bytes`);
  });
});

t.test('a key shorter than 16 bytes is refused', async (t) => {
  t.throws(() => sipHashKey(new Uint8Array(15)), RangeError);
});
