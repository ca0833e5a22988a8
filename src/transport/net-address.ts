import { BlockList, isIPv4, isIPv6 } from 'node:net';

/*
 * Classifying the IP address a connection comes from: which addresses are
 * exempt from address bans (loopback and configured local ranges, so that a
 * devnet on one machine keeps working), which subnet a public address is
 * banned with, and the group an address belongs to for the address book and
 * inbound eviction (Bitcoin Core's netgroup: /16 for IPv4, /32 for IPv6).
 */

/** Prefix length of the subnet banned with a public IPv4 address (one allocation seldom spans less than a /24). */
export const BAN_SUBNET_V4 = 24;
/** Prefix length of the subnet banned with a public IPv6 address (RFC 6177: an end site gets a /64 at the least). */
export const BAN_SUBNET_V6 = 64;

/** Parses CIDR ranges (`10.0.0.0/8`, `fd00::/8`) into a `BlockList`. @throws RangeError naming the bad range. */
export function parseRanges(ranges: readonly string[]): BlockList {
  const list = new BlockList();
  for (const r of ranges) {
    const [addr, bits, extra] = r.split('/');
    const prefix = Number(bits);
    const family = addr !== undefined && isIPv4(addr) ? 'ipv4' : addr !== undefined && isIPv6(addr) ? 'ipv6' : undefined;
    if (!family || extra !== undefined || bits === undefined || !/^[0-9]{1,3}$/.test(bits) || prefix > (family === 'ipv4' ? 32 : 128)) {
      throw new RangeError(`not a CIDR range: ${JSON.stringify(r)} (expected e.g. 10.0.0.0/8 or fd00::/8)`);
    }
    list.addSubnet(addr!, prefix, family);
  }
  return list;
}

/** Strips the IPv4-mapped IPv6 prefix (`::ffff:1.2.3.4` → `1.2.3.4`), as Node reports IPv4 peers on dual-stack sockets. */
export function normalizeIp(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m ? m[1]! : ip.toLowerCase();
}

/** True for 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopback(ip: string): boolean {
  const a = normalizeIp(ip);
  return a === 'localhost' || a === '::1' || (isIPv4(a) && a.startsWith('127.'));
}

const PRIVATE_V4 = parseRanges(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '169.254.0.0/16']);
const PRIVATE_V6 = parseRanges(['fc00::/7', 'fe80::/10']);

/** True for private, carrier-grade NAT and link-local addresses (RFC 1918, RFC 6598, RFC 3927, RFC 4193, RFC 4291). */
export function isPrivate(ip: string): boolean {
  const a = normalizeIp(ip);
  if (isIPv4(a)) return PRIVATE_V4.check(a, 'ipv4');
  if (isIPv6(a)) return PRIVATE_V6.check(a, 'ipv6');
  return false;
}

/** The 8 groups of an IPv6 address, expanded (`::1` → 0,0,0,0,0,0,0,1). */
function ipv6Groups(ip: string): number[] {
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : new Array<string>(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].map((g) => parseInt(g, 16) || 0);
}

/** The first `bits` bits of an address as `prefix/bits` text, or undefined when it is not an IP address. */
export function subnetOf(ip: string, bitsV4: number, bitsV6: number): string | undefined {
  const a = normalizeIp(ip);
  if (isIPv4(a)) {
    const n = a.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
    const masked = bitsV4 === 0 ? 0 : Math.floor(n / 2 ** (32 - bitsV4)) * 2 ** (32 - bitsV4);
    return `${[24, 16, 8, 0].map((s) => Math.floor(masked / 2 ** s) % 256).join('.')}/${bitsV4}`;
  }
  if (isIPv6(a)) {
    const g = ipv6Groups(a);
    const out: string[] = [];
    for (let i = 0; i < 8; i++) {
      const keep = Math.max(0, Math.min(16, bitsV6 - i * 16));
      out.push(((g[i]! >> (16 - keep)) << (16 - keep)).toString(16));
    }
    return `${out.join(':')}/${bitsV6}`;
  }
  return undefined;
}

/**
 * The group of an address (Bitcoin Core's netgroup): /16 for IPv4, /32 for
 * IPv6; loopback is one group; a host name is its own group. Peers of one
 * group are treated as one operator by the address book and by eviction.
 */
export function addressGroup(host: string): string {
  if (isLoopback(host)) return 'loopback';
  return subnetOf(host, 16, 32) ?? `name:${host.toLowerCase()}`;
}

/**
 * Decides which addresses may be banned, and how: loopback and the
 * configured local ranges never; other private addresses by their own IP;
 * public ones by IP and by their subnet (/24, /64), since one operator
 * usually holds a whole subnet.
 */
export class AddressPolicy {
  private readonly local: BlockList;

  /** @throws RangeError when a range is not CIDR. */
  constructor(localRanges: readonly string[] = []) {
    this.local = parseRanges(localRanges);
  }

  /** True when address bans and per-address limits never apply to `ip`. */
  isExempt(ip: string): boolean {
    const a = normalizeIp(ip);
    if (isLoopback(a)) return true;
    if (isIPv4(a)) return this.local.check(a, 'ipv4');
    if (isIPv6(a)) return this.local.check(a, 'ipv6');
    return false;
  }

  /** Ban subjects of an address: `[]` when exempt, `ip:<a>` for private, plus `net:<subnet>` for public addresses. */
  banSubjects(ip: string): string[] {
    if (!ip || this.isExempt(ip)) return [];
    const a = normalizeIp(ip);
    if (isPrivate(a)) return [`ip:${a}`];
    const net = subnetOf(a, BAN_SUBNET_V4, BAN_SUBNET_V6);
    return net ? [`ip:${a}`, `net:${net}`] : [`ip:${a}`];
  }
}
