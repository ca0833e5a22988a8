import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync, writeSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fromHex, toHex } from '../core/encoding.js';
import { generateKeyPair } from '../core/ed25519.js';
import { authenticatedId } from '../transport/handshake-auth.js';

/** Why a data folder cannot be used. */
export class DataDirError extends Error {
  override readonly name = 'DataDirError';
  readonly code = 'ERR_DATA_DIR';
  constructor(readonly reason: 'locked' | 'bad-key-file' | 'bad-node-id', message: string) {
    super(message);
  }
}

/** File names inside a peer's data folder. */
export const DATA_FILES = {
  lock: 'LOCK',
  nodeId: 'node-id',
  minerKey: 'miner.key',
  identityKey: 'identity.key',
  chain: 'chain',
} as const;

/**
 * Takes the folder's lock file (our pid), so two peers never write one chain.
 * A lock left by a process that no longer runs (after a crash) is taken over.
 * @throws DataDirError `locked` when a live process holds it.
 */
export function lockDataDir(dir: string): () => void {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, DATA_FILES.lock);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          unlinkSync(path);
        } catch {
          /* already gone */
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new DataDirError('locked', `data folder ${dir} is in use by process ${pid}`);
      }
      unlinkSync(path);
    }
  }
  throw new DataDirError('locked', `could not lock data folder ${dir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const NODE_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The peer's node id: the configured one, else the one kept in the folder
 * (from an earlier version), else the authenticated id of `identity` when
 * given, else a new random one that is kept.
 */
export function loadNodeId(dir: string, configured?: string, identity?: { publicKey: Uint8Array }): string {
  if (configured) return configured;
  const path = join(dir, DATA_FILES.nodeId);
  if (existsSync(path)) {
    const id = readFileSync(path, 'utf8').trim();
    if (!NODE_ID_RE.test(id)) throw new DataDirError('bad-node-id', `${path} does not hold a valid node id`);
    return id;
  }
  if (identity) return authenticatedId(identity.publicKey);
  const id = `node-${randomBytes(6).toString('hex')}`;
  writeFileSync(path, id + '\n', { mode: 0o644 });
  return id;
}

/** A key file: `{"publicKey": hex32, "secretKey": hex64}`, mode 0600. */
export interface KeyFile {
  publicKey: string;
  secretKey: string;
}

/**
 * The mining key kept in the folder (created on first use, mode 0600).
 * @throws DataDirError `bad-key-file` when the file is unreadable or readable by others.
 */
export function loadOrCreateMinerKey(dir: string): { publicKey: Uint8Array; secretKey: Uint8Array } {
  return loadOrCreateKeyFile(join(dir, DATA_FILES.minerKey));
}

/**
 * The node's identity key (ed25519), kept in `identity.key` (created on first
 * use, mode 0600). It signs the HELLO/HEY handshake, so the node's
 * authenticated id `ed25519_<public key>` cannot be claimed by anyone else.
 * @throws DataDirError `bad-key-file` when the file is unreadable or readable by others.
 */
export function loadOrCreateIdentityKey(dir: string): { publicKey: Uint8Array; secretKey: Uint8Array } {
  return loadOrCreateKeyFile(join(dir, DATA_FILES.identityKey));
}

function loadOrCreateKeyFile(path: string): { publicKey: Uint8Array; secretKey: Uint8Array } {
  if (!existsSync(path)) {
    const kp = generateKeyPair();
    const file: KeyFile = { publicKey: toHex(kp.publicKey), secretKey: toHex(kp.secretKey) };
    writeFileSync(path, JSON.stringify(file, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    return kp;
  }
  if ((statSync(path).mode & 0o077) !== 0) throw new DataDirError('bad-key-file', `${path} is readable by others; run chmod 600 on it`);
  try {
    const file = JSON.parse(readFileSync(path, 'utf8')) as KeyFile;
    return { publicKey: fromHex(file.publicKey, 32, 'publicKey'), secretKey: fromHex(file.secretKey, 64, 'secretKey') };
  } catch (err) {
    throw new DataDirError('bad-key-file', `${path} is not a valid key file: ${(err as Error).message}`);
  }
}
