import { open, type RootDatabase } from 'lmdb';

/*
 * The switch's users and sharing rules, in LMDB (the original kept them in
 * MongoDB). Key layout, one database:
 *
 *   ['user', name]             → SwitchUser
 *   ['share', owner, grantee]  → string[]  attribute names `owner` shares with `grantee`
 *
 * Every change is one write transaction, so a crash never leaves a user
 * without its key or half of an UNSHARE.
 */

/** A registered user. */
export interface SwitchUser {
  name: string;
  /** The `#pubkey` value it registered with: base64 of its PEM public key. */
  pubkey: string;
  /** Where the switch last heard from it (forwarded messages and PINGs go there). */
  host: string;
  port: number;
  /** IP address it registered from (the users-per-address cap counts these). */
  registeredFrom: string;
  /** Unix ms. */
  registeredAt: number;
  /** Unix ms of its last verified message. */
  lastSeen: number;
}

/** LMDB store of users and sharing rules. */
export class SwitchUserStore {
  private constructor(private readonly db: RootDatabase) {}

  /** Opens (or creates) the store in folder `path`; `readOnly` lets another process read a running switch's users (LMDB allows it). */
  static open(path: string, readOnly = false): SwitchUserStore {
    return new SwitchUserStore(open({ path, compression: false, readOnly }));
  }

  /** Number of users. */
  count(): number {
    return this.db.getKeysCount({ start: ['user'], end: ['user', '\uffff'] });
  }

  getUser(name: string): SwitchUser | undefined {
    return this.db.get(['user', name]) as SwitchUser | undefined;
  }

  async putUser(user: SwitchUser): Promise<void> {
    await this.db.put(['user', user.name], user);
  }

  /** Every user (for the PING loop and the users-per-address cap). */
  *users(): Iterable<SwitchUser> {
    for (const { value } of this.db.getRange({ start: ['user'], end: ['user', '\uffff'] })) yield value as SwitchUser;
  }

  /** Removes a user and every sharing rule it is part of, in one transaction. */
  async removeUser(name: string): Promise<void> {
    await this.db.transaction(() => {
      void this.db.remove(['user', name]);
      for (const { key } of this.db.getRange({ start: ['share'], end: ['share', '\uffff'] })) {
        const k = key as [string, string, string];
        if (k[1] === name || k[2] === name) void this.db.remove(k);
      }
    });
  }

  /** Attribute names `owner` shares with `grantee`. */
  shared(owner: string, grantee: string): string[] {
    return (this.db.get(['share', owner, grantee]) as string[] | undefined) ?? [];
  }

  /** Whether `owner` shares every one of `attrs` with `grantee`. */
  shares(owner: string, grantee: string, attrs: readonly string[]): boolean {
    const set = new Set(this.shared(owner, grantee));
    return attrs.every((a) => set.has(a));
  }

  /** Adds `attrs` to what `owner` shares with `grantee` (document 000's SHARE). */
  async share(owner: string, grantee: string, attrs: readonly string[]): Promise<void> {
    if (attrs.length === 0) return;
    const set = new Set(this.shared(owner, grantee));
    for (const a of attrs) set.add(a);
    await this.db.put(['share', owner, grantee], [...set]);
  }

  /**
   * Removes `attrs` from what `owner` shares with `grantee` and from what
   * `grantee` shares with `owner` (the original's UNSHARE clears both
   * directions), in one transaction.
   */
  async unshare(owner: string, grantee: string, attrs: readonly string[]): Promise<void> {
    await this.db.transaction(() => {
      for (const [a, b] of [
        [owner, grantee],
        [grantee, owner],
      ] as const) {
        const left = this.shared(a, b).filter((x) => !attrs.includes(x));
        if (left.length === 0) void this.db.remove(['share', a, b]);
        else void this.db.put(['share', a, b], left);
      }
    });
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
