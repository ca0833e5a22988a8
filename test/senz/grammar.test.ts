import t from 'tap';
import { attributeValue, formatSenz, parseSenz, SenzParseError, sharedAttributeNames, signingText, type SenzParseErrorReason } from '../../src/senz/grammar.js';
import { generateSenzKey, keyPairFromEd25519Seed, parsePublicKeyBase64, publicKeyBase64, sealSenz, signText, verifyText } from '../../src/senz/keys.js';

/*
 * Document 000's grammar: tokens in any order, a value is the next token
 * unless it starts with a sigil, `^sender SIGNATURE` last; the signature
 * covers the message without whitespace up to and including ^sender.
 */

t.test('parses attributes with and without values, receivers, sender and signature', async (t) => {
  const m = parseSenz('SHARE #f cc #TIME 1700000000 #COIN #S_ID 1 #S_PARA 500km @coins #time 1700000000.5 ^alice c2ln');
  t.equal(m.command, 'SHARE');
  t.same(
    m.attributes.map((a) => [a.name, a.value]),
    [
      ['f', 'cc'],
      ['TIME', '1700000000'],
      ['COIN', undefined],
      ['S_ID', '1'],
      ['S_PARA', '500km'],
      ['time', '1700000000.5'],
    ],
  );
  t.same(m.receivers, ['coins']);
  t.equal(m.sender, 'alice');
  t.equal(m.signature, 'c2ln');
  t.equal(m.signedText, 'SHARE#fcc#TIME1700000000#COIN#S_ID1#S_PARA500km@coins#time1700000000.5^alice');
  t.same(sharedAttributeNames(m), ['f', 'TIME', 'COIN', 'S_ID', 'S_PARA'], '#time is not a shared attribute');
});

t.test('token order is free, several receivers are kept in order without duplicates, $ marks protected attributes', async (t) => {
  const m = parseSenz('GET @home0 $lat #time 12 @kasun $lon @home0 ^x c2ln');
  t.same(m.receivers, ['home0', 'kasun']);
  t.same(
    m.attributes.map((a) => [a.name, a.value, a.protected]),
    [
      ['lat', undefined, true],
      ['time', '12', false],
      ['lon', undefined, true],
    ],
  );
});

t.test('an attribute right before ^sender has no value (the original raised IndexError)', async (t) => {
  const m = parseSenz('SHARE @bob #lat ^alice c2ln');
  t.same(m.attributes, [{ name: 'lat', value: undefined, protected: false }]);
});

t.test('each parse has its own attributes (the original shared one dict between messages)', async (t) => {
  const a = parseSenz('DATA #x 1 @b ^a c2ln');
  const b = parseSenz('DATA #y 2 @b ^a c2ln');
  t.equal(attributeValue(a, 'y'), undefined);
  t.equal(attributeValue(b, 'x'), undefined);
});

t.test('replies of the switch without a receiver parse', async (t) => {
  const m = parseSenz('DATA #msg REGISTRATION_DONE #pubkey QUJD #time 1.5 ^mysensors c2ln');
  t.same(m.receivers, []);
  t.equal(attributeValue(m, 'msg'), 'REGISTRATION_DONE');
});

t.test('malformed messages are typed errors', async (t) => {
  const cases: Array<[string, SenzParseErrorReason]> = [
    ['', 'empty'],
    ['   \n ', 'empty'],
    ['HELLO #a ^b c2ln', 'unknown-command'],
    ['SHARE #a @b', 'no-sender'],
    ['SHARE #a @b ^c', 'no-signature'],
    ['SHARE #a @b ^c c2ln extra', 'trailing-tokens'],
    ['SHARE ^a ^b c2ln', 'duplicate-sender'],
    ['SHARE #a #a ^b c2ln', 'duplicate-attribute'],
    ['SHARE # ^b c2ln', 'bad-name'],
    ['SHARE #a @ ^b c2ln', 'bad-name'],
    ['SHARE #a ^b! c2ln', 'bad-name'],
    ['SHARE #a ^b not*base64', 'bad-signature-encoding'],
    ['SHARE #a ^b abc', 'bad-signature-encoding'],
    ['SHARE #a 1 2 ^b c2ln', 'stray-value'],
    ['SHARE #a \u00e9 ^b c2ln', 'not-ascii'],
    ['SHARE #a \u0000 ^b c2ln', 'not-ascii'],
    [`SHARE ${Array.from({ length: 33 }, (_, i) => `#a${i}`).join(' ')} ^b c2ln`, 'too-many-attributes'],
    [`SHARE #a ${Array.from({ length: 17 }, (_, i) => `@r${i}`).join(' ')} ^b c2ln`, 'too-many-receivers'],
  ];
  for (const [text, code] of cases) {
    let err: unknown;
    try {
      parseSenz(text);
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof SenzParseError && err.reason === code, `${JSON.stringify(text.slice(0, 40))} → ${code}`, { got: (err as SenzParseError)?.reason });
  }
});

t.test('lower-case commands are read as the original switch did', async (t) => {
  t.equal(parseSenz('share #a @b ^c c2ln').command, 'SHARE');
});

t.test('signing text: whitespace removed, signature excluded; worked example of docs/senz.md', async (t) => {
  t.equal(signingText('SHARE #pubkey QUJD #time 1700000000 @mysensors ^alice'), 'SHARE#pubkeyQUJD#time1700000000@mysensors^alice');
  t.equal(signingText('DATA\t#msg  hi\n@bob ^a'), 'DATA#msghi@bob^a');
});

t.test('RSA and ed25519: a sealed message parses and verifies over its signing text, and a changed one does not', async (t) => {
  for (const type of ['rsa', 'ed25519'] as const) {
    const key = generateSenzKey(type, 1024);
    const sealed = sealSenz('PUT #lat 7 @bob #time 1700000000', 'alice', key.privateKey);
    const m = parseSenz(sealed);
    t.ok(verifyText(key.publicKey, m.signedText, m.signature), `${type}: verifies`);
    const tampered = parseSenz(sealed.replace('#lat 7', '#lat 8'));
    t.notOk(verifyText(key.publicKey, tampered.signedText, tampered.signature), `${type}: a changed value fails`);
    t.ok(verifyText(key.publicKey, parseSenz(sealed.replace(/ /g, '  ')).signedText, m.signature), `${type}: whitespace does not matter`);
    const round = parsePublicKeyBase64(publicKeyBase64(key.publicKey));
    t.equal(round.type, type);
  }
});

t.test('an ed25519 Senz key made from a wallet seed is the wallet address', async (t) => {
  const seed = new Uint8Array(32).fill(7);
  const key = keyPairFromEd25519Seed(seed);
  const nacl = (await import('tweetnacl')).default;
  t.equal(key.publicKey.address, Buffer.from(nacl.sign.keyPair.fromSeed(seed).publicKey).toString('hex'));
  t.ok(verifyText(key.publicKey, 'abc', signText(key.privateKey, 'abc')));
});

t.test('verifyText never throws on garbage', async (t) => {
  const key = generateSenzKey('rsa', 1024);
  t.notOk(verifyText(key.publicKey, 'x', 'AAAA'));
  t.notOk(verifyText(generateSenzKey('ed25519').publicKey, 'x', 'AAAA'));
});

t.test('formatSenz writes drafts and refuses values that would change the grammar', async (t) => {
  t.equal(formatSenz({ command: 'SHARE', attributes: [['f', 'cc'], ['COIN', undefined]], receivers: ['coins'] }), 'SHARE #f cc #COIN @coins');
  t.throws(() => formatSenz({ command: 'PUT', attributes: [['x', '@evil']] }), SenzParseError);
  t.throws(() => formatSenz({ command: 'PUT', attributes: [['x', 'a b']] }), SenzParseError);
});

t.test('the worked example of docs/senz.md (RFC 8032 test 1 key)', async (t) => {
  const key = keyPairFromEd25519Seed(Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex'));
  const sealed = sealSenz('DATA #msg hello #time 1700000000.000 @bob', 'alice', key.privateKey);
  t.equal(sealed, 'DATA #msg hello #time 1700000000.000 @bob ^alice pMCp189RkeMtxIsdUI8Oqq5BkUao5I8Cd4rg7EGJ1/yo4MlR+Ei1pz5mXthGI3xK5WVnTYAJ4TFXie2sj9/6Bw==');
  const m = parseSenz(sealed);
  t.equal(Buffer.from(m.signedText).toString('hex'), '44415441236d736768656c6c6f2374696d65313730303030303030302e30303040626f625e616c696365');
  t.equal(
    publicKeyBase64(key.publicKey),
    'LS0tLS1CRUdJTiBQVUJMSUMgS0VZLS0tLS0KTUNvd0JRWURLMlZ3QXlFQTExcVlBWUt4Q3JmVlMvN1R5V1FIT2c3aGN2UGFwaU1scndJYWFQY0hVUm89Ci0tLS0tRU5EIFBVQkxJQyBLRVktLS0tLQo=',
  );
});
