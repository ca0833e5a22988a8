/**
 * The frame decoder (python-p2p-network 1.2 framing, seeds 002): incremental,
 * limit checked before buffering, empty frames refused, zlib frames decoded
 * with a bounded output, bzip2/lzma refused, linear in its input.
 */
import t from 'tap';
import { deflateSync } from 'node:zlib';
import { FrameDecoder, FrameError, encodeFrame, type FrameResult } from '../../src/transport/frame-decoder.js';
import { MAX_FRAME_BYTES } from '../../src/transport/limits.js';

const EOT = Buffer.of(0x04);

function texts(results: FrameResult[]): string[] {
  return results.map((r) => (r.type === 'frame' ? r.text : `!${r.error.reason}`));
}

/** python-p2p-network's `compress`: base64(compressed + suffix), then 0x02 0x04. */
function pythonCompressed(compressed: Buffer, suffix: string): Buffer {
  return Buffer.concat([Buffer.from(Buffer.concat([compressed, Buffer.from(suffix)]).toString('base64')), Buffer.of(0x02, 0x04)]);
}

t.test('several frames in one chunk come out in order', async (t) => {
  const d = new FrameDecoder();
  const out = d.push(Buffer.from('{"A":1}\x04{"B":2}\x04{"C"'));
  t.same(texts(out), ['{"A":1}', '{"B":2}']);
  t.equal(d.bufferedBytes, 4, 'the partial third frame is held');
  t.same(texts(d.push(Buffer.from(':3}\x04'))), ['{"C":3}']);
  t.equal(d.bufferedBytes, 0);
});

t.test('a frame split into single bytes is reassembled', async (t) => {
  const d = new FrameDecoder();
  const bytes = Buffer.from('{"PING":{"nonce":7}}\x04{"x":"é"}\x04', 'utf8');
  const out: FrameResult[] = [];
  for (const b of bytes) out.push(...d.push(Buffer.of(b)));
  t.same(texts(out), ['{"PING":{"nonce":7}}', '{"x":"é"}'], 'a multi-byte UTF-8 character split across chunks is fine');
  t.equal(out[0]!.type === 'frame' && out[0]!.wireBytes, 20);
});

t.test('an empty frame is refused and the decoder goes on', async (t) => {
  const d = new FrameDecoder();
  const out = d.push(Buffer.from('\x04{"A":1}\x04'));
  t.same(texts(out), ['!empty-frame', '{"A":1}']);
  const err = (out[0] as { error: FrameError }).error;
  t.equal(err.name, 'FrameError');
  t.equal(err.fatal, false, 'message-level: reject this message');
  t.equal(d.failed, undefined);
});

t.test('a frame over the limit is refused before its bytes are buffered', async (t) => {
  const d = new FrameDecoder({ maxFrameBytes: 1000 });
  t.same(d.push(Buffer.alloc(600, 0x41)), []);
  t.equal(d.bufferedBytes, 600);
  const out = d.push(Buffer.alloc(600, 0x41));
  t.same(texts(out), ['!frame-too-large']);
  t.equal((out[0] as { error: FrameError }).error.fatal, true, 'stream-level: the stream is unusable');
  t.equal(d.bufferedBytes, 0, 'the 600 new bytes were never copied and the old ones were dropped');
  t.equal(d.capacity, 0, 'no memory is kept');
  t.equal(d.failed?.reason, 'frame-too-large');
  t.same(d.push(Buffer.from('{"A":1}\x04')), [], 'a failed decoder refuses further input');
});

t.test('a frame of exactly the limit is accepted, one byte more is not', async (t) => {
  const d = new FrameDecoder({ maxFrameBytes: 10 });
  t.same(texts(d.push(Buffer.from('0123456789\x04'))), ['0123456789']);
  t.same(texts(d.push(Buffer.from('0123456789A'))), ['!frame-too-large']);
});

t.test('a 4,000,001-byte frame is refused at the default limit with nothing buffered past it', async (t) => {
  const d = new FrameDecoder();
  t.equal(d.maxFrameBytes, MAX_FRAME_BYTES);
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  let refused: FrameResult[] = [];
  let maxBuffered = 0;
  for (let sent = 0; sent <= MAX_FRAME_BYTES && refused.length === 0; sent += chunk.length) {
    refused = d.push(chunk);
    maxBuffered = Math.max(maxBuffered, d.bufferedBytes);
  }
  t.same(texts(refused), ['!frame-too-large']);
  t.ok(maxBuffered <= MAX_FRAME_BYTES, `never more than the limit buffered (${maxBuffered})`);
  t.ok(d.capacity <= MAX_FRAME_BYTES);
});

t.test('invalid UTF-8 is refused as a message', async (t) => {
  const d = new FrameDecoder();
  t.same(texts(d.push(Buffer.from([0xff, 0xfe, 0x04, 0x41, 0x04]))), ['!invalid-utf8', 'A']);
});

t.test('end() reports a frame cut by the end of the stream', async (t) => {
  const d = new FrameDecoder();
  d.push(Buffer.from('{"A":'));
  const out = d.end();
  t.same(texts(out), ['!truncated-frame']);
  t.equal(new FrameDecoder().end().length, 0, 'nothing to report between frames');
});

t.test('zlib frames as python-p2p-network writes them are decoded', async (t) => {
  const json = JSON.stringify({ HELLO: { text: 'x'.repeat(5000) } });
  const frame = pythonCompressed(deflateSync(Buffer.from(json), { level: 6 }), 'zlib');
  t.ok(frame.length < json.length / 10, 'it really is compressed');
  const d = new FrameDecoder();
  const out = d.push(Buffer.concat([frame, Buffer.from('{"B":1}\x04')]));
  t.equal(out.length, 2);
  t.match(out[0], { type: 'frame', text: json, compression: 'zlib', wireBytes: frame.length - 1 });
  t.same(texts(out.slice(1)), ['{"B":1}']);
  t.same(encodeFrame(json, { compression: 'zlib' }), frame, 'encodeFrame writes the same bytes as the Python library');
});

t.test('bzip2 and lzma frames are refused as unsupported, unknown suffixes and bad base64 as bad frames', async (t) => {
  const d = new FrameDecoder();
  const out = d.push(
    Buffer.concat([
      pythonCompressed(Buffer.from('BZh91AY&SY'), 'bzip2'),
      pythonCompressed(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a]), 'lzma'),
      pythonCompressed(Buffer.from('data'), 'gzip'),
      Buffer.from('not*base64\x02\x04'),
      pythonCompressed(Buffer.from('this is not zlib'), 'zlib'),
      Buffer.from('{"ok":1}\x04'),
    ]),
  );
  t.same(texts(out), ['!unsupported-compression', '!unsupported-compression', '!unknown-compression', '!bad-base64', '!decompression-failed', '{"ok":1}']);
  t.ok(out.slice(0, 5).every((r) => r.type === 'error' && !r.error.fatal), 'each rejects one message; the stream goes on');
});

t.test('a decompression bomb stops at the limit', async (t) => {
  const bomb = deflateSync(Buffer.alloc(50_000_000, 0x20), { level: 9 });
  const frame = pythonCompressed(bomb, 'zlib');
  t.ok(frame.length < 100_000, `the bomb is small on the wire (${frame.length} bytes)`);
  const d = new FrameDecoder();
  t.same(texts(d.push(frame)), ['!decompressed-too-large']);
  const small = new FrameDecoder({ maxFrameBytes: 100 });
  t.same(texts(small.push(pythonCompressed(deflateSync(Buffer.alloc(101, 0x41)), 'zlib'))), ['!decompressed-too-large'], 'the decompressed size counts against the frame limit');
  t.same(texts(small.push(pythonCompressed(deflateSync(Buffer.alloc(100, 0x41)), 'zlib'))), ['A'.repeat(100)]);
});

t.test('encodeFrame refuses what cannot be framed', async (t) => {
  t.throws(() => encodeFrame(''), { code: 'ERR_FRAME', reason: 'empty-frame' });
  t.throws(() => encodeFrame('a\x04b'), RangeError);
  t.throws(() => encodeFrame('ab\x02'), RangeError);
  t.throws(() => encodeFrame('x'.repeat(11), { maxFrameBytes: 10 }), { code: 'ERR_FRAME', reason: 'frame-too-large' });
  t.same(encodeFrame('{}'), Buffer.from('{}\x04'));
  t.throws(() => new FrameDecoder({ maxFrameBytes: 0 }), { message: 'options.maxFrameBytes must be a positive integer' });
});

t.test('decoding is linear in its input however it is split', async (t) => {
  // 1 MB pushed one byte at a time: a decoder that re-scanned its buffer on
  // every push would do ~5e11 byte comparisons here and never finish within
  // the test's timeout; a linear one takes about a second. Speed itself is
  // measured in bench/, not asserted here.
  const frame = Buffer.concat([Buffer.alloc(1_000_000, 0x61), EOT]);
  const d = new FrameDecoder();
  const one = Buffer.alloc(1);
  const out = [];
  for (let i = 0; i < frame.length; i++) {
    one[0] = frame[i]!;
    out.push(...d.push(one));
  }
  t.equal(out.length, 1, 'one frame');
  t.match(out[0], { type: 'frame' });
  t.equal(texts(out)[0]!.length, 1_000_000, 'with all of its bytes');
});
