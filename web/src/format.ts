/** Base units per coin (src/core/params.ts COIN): amounts are integers of base units, shown with 8 decimals. */
export const COIN_DECIMALS = 8;
const COIN = 10n ** BigInt(COIN_DECIMALS);

/** `150000000` → `1.5` (exact: bigint arithmetic, no floating point). */
export function formatCoins(baseUnits: string | bigint): string {
  const v = typeof baseUnits === 'bigint' ? baseUnits : BigInt(baseUnits);
  const whole = v / COIN;
  const frac = (v % COIN).toString().padStart(COIN_DECIMALS, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : whole.toString();
}

/** `1.5` → `150000000n`; undefined for anything that is not a non-negative decimal with at most 8 decimals. */
export function parseCoins(text: string): bigint | undefined {
  const m = /^\s*([0-9]{1,12})(?:\.([0-9]{1,8}))?\s*$/.exec(text);
  if (!m) return undefined;
  return BigInt(m[1]!) * COIN + BigInt((m[2] ?? '').padEnd(COIN_DECIMALS, '0'));
}

/** First characters of a hash or key, for tables. */
export function short(hex: string, n = 12): string {
  return hex.length > n ? `${hex.slice(0, n)}…` : hex;
}

/** Hashes per second with a unit. */
export function formatRate(hps: number): string {
  if (hps >= 1e6) return `${(hps / 1e6).toFixed(2)} MH/s`;
  if (hps >= 1e3) return `${(hps / 1e3).toFixed(1)} kH/s`;
  return `${hps.toFixed(0)} H/s`;
}

/** Seconds since the epoch as local time of day. */
export function formatTime(seconds: number): string {
  return new Date(seconds * 1000).toLocaleTimeString();
}
