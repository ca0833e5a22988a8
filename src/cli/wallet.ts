import { closeSync, fsyncSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import type { Command } from 'commander';
import { defaultApiPort } from '../config/schema.js';
import { keyPairFromSeed, generateKeyPair } from '../core/ed25519.js';
import { DecodeError, bytesEqual, fromHex, toHex } from '../core/encoding.js';
import { hashFromHex } from '../core/hash.js';
import { COIN, MAX_MONEY } from '../core/params.js';
import { COIN_DECIMALS, formatCoins } from '../core/coins.js';

export { COIN_DECIMALS, formatCoins };
import { parseAmount, signTransfer, txToJson } from '../core/transaction.js';
import type { AccountView, NodeInfo } from '../node/node-api.js';

/*
 * `cheesechain wallet new | address | balance | send`: keys in a JSON file
 * readable only by its owner, and a client of a running peer's HTTP API
 * (docs/api.md). The key file has the format of a peer's `miner.key`, so the
 * wallet can spend what a peer mined.
 */

/** @default 'wallet.key' — key file used when `--file` is not given (relative to the working folder). */
export const DEFAULT_WALLET_FILE = 'wallet.key';
/** @default http://127.0.0.1:18331 — the devnet peer's API (`api.port` default on devnet). */
export const DEFAULT_API_URL = `http://127.0.0.1:${defaultApiPort('devnet')}`;
/** @default 1000 — fee of a transfer when `--fee` is not given, base units (0.00001 coin). */
export const DEFAULT_FEE_BASE_UNITS = 1000n;
/** Mode of a key file: read and write by its owner only. */
export const KEY_FILE_MODE = 0o600;
/** Permission bits that must be clear on a key file (group and others). */
export const KEY_FILE_FORBIDDEN_BITS = 0o077;
/** Time allowed for one API request, ms. */
export const WALLET_HTTP_TIMEOUT_MS = 15_000;

/** What went wrong in a wallet command. */
export type WalletErrorReason =
  | 'bad-usage'
  | 'file-exists'
  | 'no-key-file'
  | 'insecure-key-file'
  | 'bad-key-file'
  | 'api-unreachable'
  | 'api-error'
  | 'rejected';

/**
 * A wallet failure with the process exit code it maps to: 2 for bad usage
 * (an amount, address or URL that does not parse), 1 for everything else.
 */
export class WalletError extends Error {
  override readonly name = 'WalletError';
  readonly code = 'ERR_WALLET';
  readonly exitCode: 1 | 2;
  constructor(
    readonly reason: WalletErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.exitCode = reason === 'bad-usage' ? 2 : 1;
  }
}

// ---------------------------------------------------------------------------
// Amounts

const COINS_RE = /^([0-9]+)(?:\.([0-9]+))?$/;

/**
 * Parses a coin amount with up to {@link COIN_DECIMALS} decimals into base
 * units, exactly, with string arithmetic (no floating point): `'1.5'` →
 * `150000000n`, `'0.00000001'` → `1n`.
 * @throws WalletError `bad-usage` for a sign, an exponent, more than 8
 *   decimals, anything but digits and one point, or more than MAX_MONEY.
 */
export function parseCoins(text: string, what = 'amount'): bigint {
  const m = COINS_RE.exec(text);
  if (!m) throw new WalletError('bad-usage', `${what} must be a number of coins like 1.5 (digits and at most one point, no sign), got ${JSON.stringify(text)}`);
  const whole = m[1]!;
  const fraction = m[2] ?? '';
  if (fraction.length > COIN_DECIMALS) throw new WalletError('bad-usage', `${what} has more than ${COIN_DECIMALS} decimals: ${JSON.stringify(text)} (1 base unit = 0.00000001 coin)`);
  const base = BigInt(whole) * COIN + BigInt(fraction.padEnd(COIN_DECIMALS, '0') || '0');
  if (base > MAX_MONEY) throw new WalletError('bad-usage', `${what} exceeds the ${MAX_MONEY / COIN} coins that can ever exist`);
  return base;
}

/**
 * Parses an amount in base units (`--base-units`).
 * @throws WalletError `bad-usage` unless a non-negative integer up to MAX_MONEY.
 */
export function parseBaseUnits(text: string, what = 'amount'): bigint {
  try {
    return parseAmount(text, what);
  } catch (err) {
    if (err instanceof DecodeError) throw new WalletError('bad-usage', err.message);
    throw err;
  }
}

// ---------------------------------------------------------------------------
// Key files

/** A key file: `{"publicKey": hex (32 bytes), "secretKey": hex (64 bytes: seed ‖ public key)}`, mode 0600. */
export interface WalletKeyFile {
  publicKey: string;
  secretKey: string;
}

export interface WalletKeys {
  publicKey: Uint8Array;
  /** tweetnacl's 64-byte secret key (seed ‖ public key). */
  secretKey: Uint8Array;
}

/**
 * Creates a key pair with tweetnacl and writes it to `path` with mode 0600,
 * synced to disk before returning.
 * @throws WalletError `file-exists` (never overwrites a key), or the
 *   file-system error when the folder does not exist.
 */
export function createWalletFile(path: string): WalletKeys {
  const keys = generateKeyPair();
  const file: WalletKeyFile = { publicKey: toHex(keys.publicKey), secretKey: toHex(keys.secretKey) };
  let fd: number;
  try {
    fd = openSync(path, 'wx', KEY_FILE_MODE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new WalletError('file-exists', `${path} already exists; refusing to overwrite a key file`, { cause: err });
    throw err;
  }
  try {
    writeSync(fd, JSON.stringify(file, null, 2) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return keys;
}

/**
 * Reads a key file after checking that neither group nor others may access
 * it, and that its public key belongs to its secret key.
 * @throws WalletError `no-key-file`, `insecure-key-file` (mode allows group or
 *   other access) or `bad-key-file`.
 */
export function readWalletFile(path: string): WalletKeys {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new WalletError('no-key-file', `no key file at ${path}; create one with: cheesechain wallet new --file ${path}`, { cause: err });
    throw new WalletError('bad-key-file', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  if ((mode & KEY_FILE_FORBIDDEN_BITS) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0');
    throw new WalletError('insecure-key-file', `${path} can be read by group or others (mode ${octal}); refusing to use it. Run: chmod 600 ${path}`);
  }
  let file: WalletKeyFile;
  try {
    file = JSON.parse(readFileSync(path, 'utf8')) as WalletKeyFile;
  } catch (err) {
    throw new WalletError('bad-key-file', `${path} is not a key file (expected JSON {publicKey, secretKey}): ${(err as Error).message}`, { cause: err });
  }
  try {
    const publicKey = fromHex(file?.publicKey, 32, 'publicKey');
    const secretKey = fromHex(file?.secretKey, 64, 'secretKey');
    const derived = keyPairFromSeed(secretKey.slice(0, 32));
    if (!bytesEqual(derived.publicKey, publicKey) || !bytesEqual(derived.secretKey, secretKey)) throw new DecodeError('publicKey does not belong to secretKey');
    return { publicKey, secretKey };
  } catch (err) {
    throw new WalletError('bad-key-file', `${path} is not a valid key file: ${(err as Error).message}`, { cause: err });
  }
}

function parseAddress(hex: string, what: string): Uint8Array {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new WalletError('bad-usage', `${what} must be an ed25519 public key, 64 hex characters, got ${JSON.stringify(hex.slice(0, 80))}`);
  return fromHex(hex.toLowerCase(), 32, what);
}

// ---------------------------------------------------------------------------
// API client

function apiBase(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new WalletError('bad-usage', `--api must be a URL like ${DEFAULT_API_URL}, got ${JSON.stringify(url)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new WalletError('bad-usage', `--api must be an http:// URL, got ${JSON.stringify(url)}`);
  return u.href.replace(/\/+$/, '');
}

interface ApiAnswer {
  status: number;
  body: unknown;
}

async function request(api: string, path: string, init?: { method: 'POST'; body: unknown }): Promise<ApiAnswer> {
  const base = apiBase(api);
  let res: Response;
  try {
    res = await fetch(base + path, {
      method: init?.method ?? 'GET',
      headers: init ? { 'content-type': 'application/json' } : {},
      body: init ? JSON.stringify(init.body) : null,
      signal: AbortSignal.timeout(WALLET_HTTP_TIMEOUT_MS),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (err as Error).message;
    throw new WalletError('api-unreachable', `cannot reach the node API at ${base} (${why}); is the peer running with api.enabled, and is --api right?`, { cause: err });
  }
  let body: unknown;
  try {
    body = await res.json();
  } catch (err) {
    throw new WalletError('api-error', `${base}${path} answered HTTP ${res.status} without JSON; is --api a cheesechain peer?`, { cause: err });
  }
  return { status: res.status, body };
}

function errorOf(body: unknown): { code: string; reason: string } | undefined {
  const e = (body as { error?: { code?: unknown; reason?: unknown } })?.error;
  return e && typeof e.code === 'string' && typeof e.reason === 'string' ? { code: e.code, reason: e.reason } : undefined;
}

async function getJson<T>(api: string, path: string): Promise<T> {
  const { status, body } = await request(api, path);
  if (status !== 200) {
    const e = errorOf(body);
    throw new WalletError('api-error', `GET ${path}: HTTP ${status}${e ? ` ${e.code}: ${e.reason}` : ''}`);
  }
  return body as T;
}

/** Balance, nonce and pending nonce of an account, from `GET /accounts/:key`. */
export async function fetchAccount(api: string, key: Uint8Array): Promise<AccountView> {
  return getJson<AccountView>(api, `/accounts/${toHex(key)}`);
}

export interface SendOptions {
  api: string;
  keys: WalletKeys;
  to: Uint8Array;
  /** Base units, at least 1. */
  amount: bigint;
  /** Base units. */
  fee: bigint;
}

/**
 * Signs and submits a transfer: reads the network id from `GET /info` (so the
 * signature is valid on that network only) and the next nonce from
 * `GET /accounts/<sender>` (`pendingNonce`, which counts the sender's
 * transfers already in the mempool), signs with tweetnacl and `POST /tx`.
 * @returns the txid.
 * @throws WalletError `rejected` with the node's reason code, `api-unreachable`, `api-error`.
 */
export async function sendTransfer(o: SendOptions): Promise<{ txid: string; nonce: number }> {
  if (o.amount < 1n) throw new WalletError('bad-usage', 'amount must be at least 1 base unit (0.00000001 coin)');
  const info = await getJson<NodeInfo>(o.api, '/info');
  const netId = hashFromHex(info.networkId, 'networkId');
  const account = await fetchAccount(o.api, o.keys.publicKey);
  const tx = signTransfer(netId, { recipient: o.to, amount: o.amount, fee: o.fee, nonce: account.pendingNonce }, o.keys.secretKey);
  const { status, body } = await request(o.api, '/tx', { method: 'POST', body: txToJson(tx) });
  if (status === 200 && (body as { accepted?: unknown }).accepted === true) return { txid: (body as { txid: string }).txid, nonce: account.pendingNonce };
  const e = errorOf(body);
  if (e) throw new WalletError('rejected', `transaction rejected (HTTP ${status}): ${e.code}: ${e.reason}`);
  throw new WalletError('api-error', `POST /tx: unexpected answer HTTP ${status}`);
}

// ---------------------------------------------------------------------------
// Commands

interface FileOpt {
  file: string;
}

function print(line: string): void {
  process.stdout.write(line + '\n');
}

/** Registers `cheesechain wallet new | address | balance | send`. */
export function register(program: Command): void {
  const wallet = program.command('wallet').description(`keys (JSON file, mode 0600) and transfers through a peer's HTTP API (docs/api.md)`);

  wallet
    .command('new')
    .description('create a key pair in a new file (never overwrites)')
    .option('-f, --file <file>', 'key file', DEFAULT_WALLET_FILE)
    .action((o: FileOpt) => {
      const keys = createWalletFile(o.file);
      print(toHex(keys.publicKey));
      process.stderr.write(`created ${o.file} (mode 0600); keep it secret and backed up\n`);
    });

  wallet
    .command('address')
    .description('print the public key (hex) of a key file')
    .option('-f, --file <file>', 'key file', DEFAULT_WALLET_FILE)
    .action((o: FileOpt) => {
      print(toHex(readWalletFile(o.file).publicKey));
    });

  wallet
    .command('balance')
    .description('print the balance and nonce of the key file or of --address')
    .option('-f, --file <file>', 'key file', DEFAULT_WALLET_FILE)
    .option('--address <hex>', 'any account (public key hex) instead of the key file')
    .option('--api <url>', "peer's HTTP API", DEFAULT_API_URL)
    .option('--json', 'print the account as JSON')
    .action(async (o: FileOpt & { address?: string; api: string; json?: boolean }) => {
      const key = o.address !== undefined ? parseAddress(o.address, '--address') : readWalletFile(o.file).publicKey;
      const acc = await fetchAccount(o.api, key);
      const balance = BigInt(acc.balance);
      if (o.json) {
        print(JSON.stringify({ ...acc, coins: formatCoins(balance) }));
        return;
      }
      print(`address  ${acc.key}`);
      print(`balance  ${formatCoins(balance)} coins (${acc.balance} base units)`);
      print(`nonce    ${acc.nonce}${acc.pendingNonce !== acc.nonce ? ` (next ${acc.pendingNonce} counting the mempool)` : ''}`);
    });

  wallet
    .command('send')
    .description('sign a transfer with the key file and submit it; prints the txid')
    .requiredOption('--to <hex>', 'recipient public key (hex)')
    .requiredOption('--amount <amount>', 'coins with up to 8 decimals (e.g. 1.5), or base units with --base-units')
    .option('--fee <amount>', `fee in coins (or base units with --base-units) (default: ${formatCoins(DEFAULT_FEE_BASE_UNITS)} coin)`)
    .option('--base-units', 'read --amount and --fee as integer base units')
    .option('-f, --file <file>', 'key file of the sender', DEFAULT_WALLET_FILE)
    .option('--api <url>', "peer's HTTP API", DEFAULT_API_URL)
    .option('--json', 'print {txid, nonce, amount, fee} as JSON')
    .action(async (o: FileOpt & { to: string; amount: string; fee?: string; baseUnits?: boolean; api: string; json?: boolean }) => {
      const parse = o.baseUnits ? parseBaseUnits : parseCoins;
      const amount = parse(o.amount, '--amount');
      const fee = o.fee === undefined ? DEFAULT_FEE_BASE_UNITS : parse(o.fee, '--fee');
      const to = parseAddress(o.to, '--to');
      apiBase(o.api);
      const keys = readWalletFile(o.file);
      const { txid, nonce } = await sendTransfer({ api: o.api, keys, to, amount, fee });
      if (o.json) print(JSON.stringify({ txid, nonce, amount: amount.toString(), fee: fee.toString() }));
      else print(txid);
    });
}
