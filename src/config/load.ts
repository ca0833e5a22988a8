import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { z } from 'zod';
import { nodeConfigInputSchema, nodeConfigSchema, type NodeConfig } from './schema.js';

/*
 * Where a setting comes from, lowest precedence first (written down once here
 * and in docs/config.md):
 *
 *   1. defaults      the named constants of schema.ts
 *   2. file          JSON given with --config; relative `dataDir` is resolved
 *                    against the file's folder
 *   3. environment   CHEESECHAIN_ + the field's path in UPPER_SNAKE case
 *                    (mining.enabled → CHEESECHAIN_MINING_ENABLED,
 *                    dataDir → CHEESECHAIN_DATA_DIR); lists are comma-separated
 *   4. command line  flags of `cheesechain node`, passed as `overrides`
 *
 * A later source replaces a value (lists included) and deep-merges objects.
 */

/** Prefix of the environment variables that set config fields. */
export const ENV_PREFIX = 'CHEESECHAIN_';

/** Why a config could not be loaded. */
export type ConfigErrorReason = 'file-not-found' | 'unreadable' | 'bad-json' | 'invalid';

/** One problem of a config. */
export interface ConfigIssue {
  /** Dotted path of the field (`listen.port`), the environment variable, or '' for the file as a whole. */
  path: string;
  /** What was expected and what was found. */
  message: string;
  /** Where the bad value came from when not the file: `CHEESECHAIN_API_PORT`, `command line`. */
  source?: string;
}

/**
 * A config that cannot be used: a missing or unreadable file, invalid JSON
 * (with line and column), or values the schema rejects. `message` is one line
 * that names every bad field, made for a terminal (no stack trace needed).
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'ERR_CONFIG';
  constructor(
    readonly reason: ConfigErrorReason,
    readonly issues: readonly ConfigIssue[],
    readonly file?: string,
    options?: { cause?: unknown },
  ) {
    super(formatConfigMessage(issues, file), options);
  }
}

function formatConfigMessage(issues: readonly ConfigIssue[], file?: string): string {
  const where = file ? ` (${file})` : '';
  const parts = issues.map((i) => {
    const from = i.source ? ` (from ${i.source})` : '';
    return i.path ? `${i.path}: ${i.message}${from}` : `${i.message}${from}`;
  });
  return `invalid config${where}: ${parts.join('; ')}`;
}

/** Command-line overrides: dotted field path (`listen.port`) → value. Strings are converted like environment values. */
export type ConfigOverrides = Readonly<Record<string, unknown>>;

export interface LoadConfigOptions {
  /** JSON config file; optional when `dataDir` comes from elsewhere. */
  file?: string;
  /** Environment to read `CHEESECHAIN_*` from (pass `process.env`). */
  env: Readonly<Record<string, string | undefined>>;
  /** Values from the command line, highest precedence. */
  overrides?: ConfigOverrides;
  /** Folder relative `dataDir` values from the environment or command line are resolved against. @default process.cwd() */
  cwd?: string;
}

/** Type of a leaf field, which decides how an environment string is converted. */
export type ConfigLeafKind = 'string' | 'number' | 'boolean' | 'list';

/** A settable leaf field of the config schema. */
export interface ConfigKey {
  /** Dotted path, e.g. `mining.enabled`. */
  path: string;
  /** Environment variable, e.g. `CHEESECHAIN_MINING_ENABLED`. */
  env: string;
  kind: ConfigLeafKind;
}

type AnySchema = z.ZodType;
interface Def {
  type: string;
  innerType?: AnySchema;
  in?: AnySchema;
  shape?: Record<string, AnySchema>;
}

function defOf(s: AnySchema): Def {
  return (s as unknown as { def: Def }).def;
}

/** Strips optional/default/prefault/pipe wrappers. */
function unwrap(s: AnySchema): AnySchema {
  for (;;) {
    const d = defOf(s);
    if ((d.type === 'optional' || d.type === 'default' || d.type === 'prefault' || d.type === 'nullable' || d.type === 'readonly') && d.innerType) s = d.innerType;
    else if (d.type === 'pipe' && d.in) s = d.in;
    else return s;
  }
}

/** The object schema at `path` (segments), or undefined. */
function objectAt(path: readonly string[]): Record<string, AnySchema> | undefined {
  let s: AnySchema = nodeConfigInputSchema;
  for (const seg of path) {
    const shape = defOf(unwrap(s)).shape;
    const next = shape?.[seg];
    if (!next) return undefined;
    s = next;
  }
  return defOf(unwrap(s)).shape;
}

function upperSnake(segment: string): string {
  return segment.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** The environment variable of a dotted field path. */
export function envName(path: string): string {
  return ENV_PREFIX + path.split('.').map(upperSnake).join('_');
}

let keysCache: ConfigKey[] | undefined;

/** Every leaf field of the schema with its environment variable and kind. */
export function configKeys(): readonly ConfigKey[] {
  if (keysCache) return keysCache;
  const out: ConfigKey[] = [];
  const walk = (s: AnySchema, prefix: string[]): void => {
    const inner = unwrap(s);
    const d = defOf(inner);
    switch (d.type) {
      case 'object':
        for (const [k, v] of Object.entries(d.shape ?? {})) walk(v, [...prefix, k]);
        return;
      case 'array':
        out.push(key(prefix, 'list'));
        return;
      case 'number':
        out.push(key(prefix, 'number'));
        return;
      case 'boolean':
        out.push(key(prefix, 'boolean'));
        return;
      default:
        // string, enum
        out.push(key(prefix, 'string'));
    }
  };
  const key = (path: string[], kind: ConfigLeafKind): ConfigKey => ({ path: path.join('.'), env: envName(path.join('.')), kind });
  walk(nodeConfigInputSchema, []);
  keysCache = out;
  return out;
}

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);
const NUMBER_RE = /^-?[0-9]+(\.[0-9]+)?$/;

/**
 * Converts a string from the environment or the command line to the kind of
 * its field. A string that does not convert is kept as it is, so that the
 * schema reports it with the field's expectation.
 */
export function coerceValue(kind: ConfigLeafKind, raw: unknown): unknown {
  if (typeof raw !== 'string') return raw;
  const v = raw.trim();
  switch (kind) {
    case 'string':
      return raw;
    case 'number':
      return NUMBER_RE.test(v) ? Number(v) : raw;
    case 'boolean': {
      const lower = v.toLowerCase();
      if (TRUE_WORDS.has(lower)) return true;
      if (FALSE_WORDS.has(lower)) return false;
      return raw;
    }
    case 'list':
      return v === '' ? [] : v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  }
}

type Json = Record<string, unknown>;

function isPlainObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function setPath(target: Json, path: readonly string[], value: unknown): void {
  let o = target;
  for (const seg of path.slice(0, -1)) {
    if (!isPlainObject(o[seg])) o[seg] = {};
    o = o[seg] as Json;
  }
  o[path[path.length - 1]!] = value;
}

/** Line and column (1-based) of a character offset. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return { line, column };
}

/**
 * Reads and parses a JSON config file; relative `dataDir` is resolved against
 * the file's folder.
 * @throws ConfigError `file-not-found`, `unreadable` or `bad-json` (with line and column).
 */
export function readConfigFile(file: string): Json {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigError('file-not-found', [{ path: '', message: `config file ${file} does not exist` }], file, { cause: err });
    throw new ConfigError('unreadable', [{ path: '', message: `cannot read config file ${file}: ${(err as Error).message}` }], file, { cause: err });
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message;
    const m = /at position (\d+)/.exec(msg);
    const offset = m ? Number(m[1]) : /end of JSON/i.test(msg) ? text.length : undefined;
    const at = offset === undefined ? '' : (({ line, column }) => ` at line ${line}, column ${column}`)(lineColumn(text, offset));
    const detail = msg.replace(/\s*in JSON at position \d+.*$/, '').replace(/,\s*".*" is not valid JSON$/, '');
    throw new ConfigError('bad-json', [{ path: '', message: `not valid JSON${at}: ${detail}` }], file, { cause: err });
  }
  if (!isPlainObject(parsed)) {
    throw new ConfigError('invalid', [{ path: '', message: `expected a JSON object at the top level, got ${Array.isArray(parsed) ? 'an array' : typeof parsed}` }], file);
  }
  if (typeof parsed.dataDir === 'string' && parsed.dataDir !== '' && !isAbsolute(parsed.dataDir)) {
    parsed.dataDir = resolve(dirname(resolve(file)), parsed.dataDir);
  }
  return parsed;
}

/** Edit distance, for "did you mean" hints. */
function distance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

function suggestion(word: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? `; did you mean ${JSON.stringify(best)}?` : '';
}

/**
 * Loads a peer's config: defaults < file < environment < command line,
 * validated by {@link nodeConfigSchema}.
 * @returns the config with every default filled in and `dataDir` absolute.
 * @throws ConfigError for a missing or unreadable file, invalid JSON, an
 *   unknown `CHEESECHAIN_*` variable or override, an unknown key, or a value
 *   of the wrong type or out of range; its issues name each field.
 */
export function loadConfig(options: LoadConfigOptions): NodeConfig {
  const cwd = options.cwd ?? process.cwd();
  const merged: Json = options.file !== undefined ? readConfigFile(options.file) : {};
  const sources = new Map<string, string>();
  const keys = configKeys();
  const byEnv = new Map(keys.map((k) => [k.env, k]));
  const byPath = new Map(keys.map((k) => [k.path, k]));
  const issues: ConfigIssue[] = [];

  const apply = (k: ConfigKey, raw: unknown, source: string): void => {
    let value = coerceValue(k.kind, raw);
    if (k.path === 'dataDir' && typeof value === 'string' && value !== '' && !isAbsolute(value)) value = resolve(cwd, value);
    setPath(merged, k.path.split('.'), value);
    sources.set(k.path, source);
  };

  for (const name of Object.keys(options.env).sort()) {
    if (!name.startsWith(ENV_PREFIX)) continue;
    const raw = options.env[name];
    if (raw === undefined || raw === '') continue; // empty means unset
    const k = byEnv.get(name);
    if (!k) {
      const hint = suggestion(name.slice(ENV_PREFIX.length), keys.map((c) => c.env.slice(ENV_PREFIX.length)));
      issues.push({ path: name, message: `unknown environment variable${hint.replace('"', `"${ENV_PREFIX}`)}` });
      continue;
    }
    apply(k, raw, name);
  }
  for (const [path, raw] of Object.entries(options.overrides ?? {})) {
    if (raw === undefined) continue;
    const k = byPath.get(path);
    if (!k) {
      issues.push({ path, message: 'unknown config field', source: 'command line' });
      continue;
    }
    apply(k, raw, 'command line');
  }

  const result = nodeConfigSchema.safeParse(merged);
  if (result.success && issues.length === 0) return result.data;
  if (!result.success) issues.push(...result.error.issues.flatMap((i) => toConfigIssues(i, sources)));
  throw new ConfigError('invalid', issues, options.file, { cause: result.error });
}

/**
 * Sets command-line values into a merged config (dotted paths, `undefined`
 * skipped) and returns which flag set which path, for {@link issuesFromZod}.
 */
export function applyFlags(merged: Json, flags: ReadonlyArray<readonly [path: string, flag: string, value: unknown]>): Map<string, string> {
  const flagged = new Map<string, string>();
  for (const [path, flag, value] of flags) {
    if (value === undefined) continue;
    setPath(merged, path.split('.'), value);
    flagged.set(path, flag);
  }
  return flagged;
}

/**
 * The issues of a failed parse of a config that is not a peer's (tracker,
 * switch): unknown keys named one per issue, and `flagged` (dotted path →
 * flag name) says which values came from the command line.
 */
export function issuesFromZod(error: z.ZodError, flagged: ReadonlyMap<string, string>): ConfigIssue[] {
  return error.issues.flatMap((issue): ConfigIssue[] => {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => ({ path: path ? `${path}.${k}` : k, message: 'unknown config field' }));
    }
    const source = flagged.get(path);
    return [source ? { path, message: issue.message, source } : { path, message: issue.message }];
  });
}

function toConfigIssues(issue: z.core.$ZodIssue, sources: ReadonlyMap<string, string>): ConfigIssue[] {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    const allowed = Object.keys(objectAt(path) ?? {});
    return issue.keys.map((key) => ({
      path: [...path, key].join('.'),
      message: `unknown key${suggestion(key, allowed)} (allowed here: ${allowed.join(', ')})`,
    }));
  }
  const dotted = path.join('.');
  const source = sources.get(dotted) ?? sources.get(path.slice(0, -1).join('.'));
  const out: ConfigIssue = { path: dotted, message: issue.message };
  if (source) out.source = source;
  return [out];
}
