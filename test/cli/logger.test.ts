import { Writable } from 'node:stream';
import t from 'tap';
import { createLogger, resolveLogFormat } from '../../src/cli/logger.js';

/** A destination that keeps what is written. */
function sink(): { stream: Writable & { write(chunk: string | Uint8Array): boolean }; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, text: () => text };
}

t.test('auto is pretty on a terminal and JSON otherwise; pretty and json are forced when asked', async (t) => {
  t.equal(resolveLogFormat('auto', true), 'pretty');
  t.equal(resolveLogFormat('auto', false), 'json');
  t.equal(resolveLogFormat(undefined, false), 'json');
  t.equal(resolveLogFormat('json', true), 'json');
  t.equal(resolveLogFormat('pretty', false), 'pretty');
});

t.test('pretty lines are readable; JSON lines are one object each', async (t) => {
  const pretty = sink();
  createLogger({ level: 'info', format: 'pretty', destination: pretty.stream, isTerminal: false }).info({ height: 42 }, 'block connected');
  t.match(pretty.text(), /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: block connected \{"height":42\}\n$/, pretty.text());
  const json = sink();
  createLogger({ level: 'info', format: 'json', destination: json.stream, isTerminal: true }).info({ height: 42 }, 'block connected');
  const line = JSON.parse(json.text());
  t.match(line, { level: 30, msg: 'block connected', height: 42, time: /^\d{4}-/ });
});
