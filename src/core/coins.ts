import { COIN } from './params.js';

/** Decimals of a coin amount: one coin is 10^8 base units ({@link COIN}). */
export const COIN_DECIMALS = 8;

/** Base units as coins with no trailing zeros: `150000000n` → `'1.5'`, `1n` → `'0.00000001'`. */
export function formatCoins(base: bigint): string {
  const sign = base < 0n ? '-' : '';
  const abs = base < 0n ? -base : base;
  const whole = abs / COIN;
  const fraction = (abs % COIN).toString().padStart(COIN_DECIMALS, '0').replace(/0+$/, '');
  return `${sign}${whole}${fraction ? '.' + fraction : ''}`;
}
