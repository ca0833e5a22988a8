import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The API token: a random secret in the peer's data folder that every control
 * action must present (bitcoind's `.cookie` file, Jupyter's `?token=`). Whoever
 * can read the data folder controls the peer; nobody else can.
 */

/** File name of the token inside the data folder (mode 0600). */
export const API_TOKEN_FILE = 'api.token';
/** Bytes of randomness in a token (written as 64 hex characters). */
export const API_TOKEN_BYTES = 32;
const TOKEN_RE = /^[0-9a-f]{64}$/;

/** The token file cannot be used. */
export class ApiTokenError extends Error {
  override readonly name = 'ApiTokenError';
  readonly code = 'ERR_API_TOKEN';
}

/** A fresh random token, 64 lower-case hex characters. */
export function newApiToken(): string {
  return randomBytes(API_TOKEN_BYTES).toString('hex');
}

/**
 * The token kept in `<dir>/api.token`, created (mode 0600) on first use; the
 * same token survives restarts, so a bookmarked `…/?token=…` keeps working.
 * @throws ApiTokenError when the file is readable by group or others, or does not hold 64 hex characters.
 */
export function loadOrCreateApiToken(dir: string): string {
  const path = join(dir, API_TOKEN_FILE);
  if (!existsSync(path)) {
    // Written aside and renamed into place, so that a peer killed mid-write never leaves a short token behind.
    const token = newApiToken();
    const aside = `${path}.${process.pid}.tmp`;
    writeFileSync(aside, token + '\n', { mode: 0o600 });
    renameSync(aside, path);
    return token;
  }
  return readApiToken(dir);
}

/**
 * The token of a peer's data folder, for a program that talks to that peer (the devnet, scripts).
 * @throws ApiTokenError when the file is missing, readable by group or others, or not 64 hex characters.
 */
export function readApiToken(dir: string): string {
  const path = join(dir, API_TOKEN_FILE);
  if (!existsSync(path)) throw new ApiTokenError(`${path} does not exist: the peer creates it when its HTTP API starts`);
  if ((statSync(path).mode & 0o077) !== 0) throw new ApiTokenError(`${path} is readable by others; run chmod 600 on it`);
  const token = readFileSync(path, 'utf8').trim();
  if (!TOKEN_RE.test(token)) throw new ApiTokenError(`${path} must hold 64 hex characters; delete it to get a new token`);
  return token;
}

/** Compares a presented token with the real one in constant time. */
export function tokenMatches(presented: string | undefined, token: string): boolean {
  if (presented === undefined || presented.length !== token.length) return false;
  return timingSafeEqual(Buffer.from(presented), Buffer.from(token));
}
