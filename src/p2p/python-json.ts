/*
 * Python's `json` module, as far as SecureNode's hashes depend on it.
 *
 * The Python SecureNode hashes and signs `json.dumps(data, sort_keys=True)`:
 * separators `", "` and `": "`, keys sorted by code point, every character
 * outside printable ASCII escaped as `\uXXXX` (lower-case hex, surrogate
 * pairs), integers as written, floats as Python's `repr`. To check a Python
 * signature the text must be rebuilt byte for byte, so a parsed message must
 * remember whether each number was an integer (`1`, kept as a bigint, any
 * size) or a float (`1.0`, kept as a number): `JSON.parse` forgets it.
 */

import type { JsonValue } from './node-connection.js';

/** A JSON value as Python's `json.loads` makes it: integers are bigints, floats are numbers. */
export type PyJson = null | boolean | string | bigint | number | PyJson[] | PyObject;
/** A JSON object (a Python `dict`); built with a null prototype, so any key is safe. */
export interface PyObject {
  [key: string]: PyJson;
}

/** Deepest nesting {@link parsePyJson} accepts (Python's own recursion limit is about 1000). */
export const MAX_PY_JSON_DEPTH = 256;

/** Text that Python's `json.loads` would refuse (or that nests deeper than {@link MAX_PY_JSON_DEPTH}). */
export class PyJsonSyntaxError extends SyntaxError {
  override readonly name = 'PyJsonSyntaxError';
  readonly code = 'ERR_P2P_JSON';
  constructor(message: string, readonly position: number) {
    super(`${message} at position ${position}`);
  }
}

function newObject(): PyObject {
  return Object.create(null) as PyObject;
}

/**
 * Parses JSON as Python's `json.loads` does: integers (no fraction, no
 * exponent) become bigints, other numbers numbers; `NaN`, `Infinity` and
 * `-Infinity` are accepted as Python accepts them; a repeated key keeps its
 * last value; control characters inside strings are refused (`strict=True`).
 * @throws PyJsonSyntaxError
 */
export function parsePyJson(text: string): PyJson {
  let i = 0;
  const n = text.length;
  const ws = (): void => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else break;
    }
  };
  const fail = (message: string): never => {
    throw new PyJsonSyntaxError(message, i);
  };
  const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;
  const value = (depth: number): PyJson => {
    if (depth > MAX_PY_JSON_DEPTH) fail(`nesting deeper than ${MAX_PY_JSON_DEPTH}`);
    ws();
    const c = text[i];
    switch (c) {
      case '{': {
        i++;
        const obj = newObject();
        ws();
        if (text[i] === '}') {
          i++;
          return obj;
        }
        for (;;) {
          ws();
          if (text[i] !== '"') fail('expected a string key');
          const key = string();
          ws();
          if (text[i] !== ':') fail("expected ':'");
          i++;
          obj[key] = value(depth + 1);
          ws();
          if (text[i] === ',') {
            i++;
            continue;
          }
          if (text[i] === '}') {
            i++;
            return obj;
          }
          fail("expected ',' or '}'");
        }
      }
      // eslint-disable-next-line no-fallthrough
      case '[': {
        i++;
        const arr: PyJson[] = [];
        ws();
        if (text[i] === ']') {
          i++;
          return arr;
        }
        for (;;) {
          arr.push(value(depth + 1));
          ws();
          if (text[i] === ',') {
            i++;
            continue;
          }
          if (text[i] === ']') {
            i++;
            return arr;
          }
          fail("expected ',' or ']'");
        }
      }
      // eslint-disable-next-line no-fallthrough
      case '"':
        return string();
      default:
        break;
    }
    if (text.startsWith('true', i)) return (i += 4), true;
    if (text.startsWith('false', i)) return (i += 5), false;
    if (text.startsWith('null', i)) return (i += 4), null;
    if (text.startsWith('NaN', i)) return (i += 3), NaN;
    if (text.startsWith('Infinity', i)) return (i += 8), Infinity;
    if (text.startsWith('-Infinity', i)) return (i += 9), -Infinity;
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m) return fail('expected a value');
    i += m[0].length;
    return m[1] === undefined && m[2] === undefined ? BigInt(m[0]) : Number(m[0]);
  };
  const string = (): string => {
    i++; // opening quote
    let out = '';
    let start = i;
    for (;;) {
      if (i >= n) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(start, i);
        i++;
        return out;
      }
      if (c < 0x20) fail('control character in a string');
      if (c !== 0x5c) {
        i++;
        continue;
      }
      out += text.slice(start, i);
      const e = text[i + 1];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const hex = text.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape');
          out += String.fromCharCode(parseInt(hex, 16));
          i += 4;
          break;
        }
        default:
          fail('bad escape');
      }
      i += 2;
      start = i;
    }
  };
  const v = value(0);
  ws();
  if (i !== n) fail('extra data after the value');
  return v;
}

/** Python's `repr(float)`: shortest round-trip digits, exponent form below 1e-4 and from 1e16 on. */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, expText] = x.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  const neg = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  let body: string;
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    body = `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  } else if (exp < 0) {
    body = `0.${'0'.repeat(-exp - 1)}${digits}`;
  } else if (digits.length > exp + 1) {
    body = `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  } else {
    body = `${digits}${'0'.repeat(exp + 1 - digits.length)}.0`;
  }
  return neg ? `-${body}` : body;
}

/** A string as Python's `json.dumps` writes it with `ensure_ascii=True`. */
export function pythonJsonString(s: string): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c <= 0x7e && c !== 0x22 && c !== 0x5c) continue;
    out += s.slice(start, i);
    start = i + 1;
    switch (c) {
      case 0x22:
        out += '\\"';
        break;
      case 0x5c:
        out += '\\\\';
        break;
      case 0x0a:
        out += '\\n';
        break;
      case 0x0d:
        out += '\\r';
        break;
      case 0x09:
        out += '\\t';
        break;
      case 0x08:
        out += '\\b';
        break;
      case 0x0c:
        out += '\\f';
        break;
      default:
        out += `\\u${c.toString(16).padStart(4, '0')}`;
    }
  }
  return `${out}${s.slice(start)}"`;
}

/** Compares two strings by code point, as Python sorts `str`. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

/** Options of {@link pythonJsonDumps}: Python's `sort_keys` and `separators`. */
export interface PyDumpsOptions {
  /** @default false */
  sortKeys?: boolean;
  /** `[item separator, key separator]`. @default [', ', ': '] (Python's default without indent) */
  separators?: readonly [string, string];
}

/** Python's `json.dumps(value, sort_keys=..., separators=...)` with `ensure_ascii=True`. */
export function pythonJsonDumps(value: PyJson, options: PyDumpsOptions = {}): string {
  const [itemSep, keySep] = options.separators ?? [', ', ': '];
  const sortKeys = options.sortKeys ?? false;
  const dump = (v: PyJson): string => {
    if (v === null) return 'null';
    switch (typeof v) {
      case 'boolean':
        return v ? 'true' : 'false';
      case 'string':
        return pythonJsonString(v);
      case 'bigint':
        return v.toString();
      case 'number':
        return pythonFloatRepr(v);
      default:
        break;
    }
    if (Array.isArray(v)) return `[${v.map(dump).join(itemSep)}]`;
    const obj = v as PyObject;
    const keys = Object.keys(obj);
    if (sortKeys) keys.sort(compareCodePoints);
    return `{${keys.map((k) => `${pythonJsonString(k)}${keySep}${dump(obj[k]!)}`).join(itemSep)}}`;
  };
  return dump(value);
}

/**
 * A JavaScript JSON value as Python would hold it after `json.loads` of its
 * `JSON.stringify` text: a number whose JSON text has no fraction and no
 * exponent is an integer; any other number a float.
 * @throws TypeError for a value JSON cannot hold (NaN, undefined, a function, a bigint).
 */
export function toPyJson(value: JsonValue): PyJson {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('a JSON number must be finite');
    const text = JSON.stringify(value);
    return /^-?[0-9]+$/.test(text) ? BigInt(text) : value;
  }
  if (Array.isArray(value)) return value.map(toPyJson);
  if (typeof value === 'object') {
    const obj = newObject();
    for (const [k, v] of Object.entries(value)) obj[k] = toPyJson(v);
    return obj;
  }
  throw new TypeError(`not a JSON value: ${typeof value}`);
}

/** A parsed value for the application: integers become numbers (exact up to 2^53). */
export function fromPyJson(value: PyJson): JsonValue {
  if (typeof value === 'bigint') return Number(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(fromPyJson);
  const out: { [k: string]: JsonValue } = {};
  for (const k of Object.keys(value)) {
    Object.defineProperty(out, k, { value: fromPyJson(value[k]!), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Whether `v` is a JSON object (a Python `dict`). */
export function isPyObject(v: PyJson): v is PyObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
