import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Page } from 'playwright-core';

/*
 * Screenshots of the dashboard, for the browser test (one picture per view,
 * in the folder the test names) and for the README's picture
 * (docs/dashboard.png), taken of a running devnet peer:
 *
 *   node dist/test/helpers/dashboard-screenshots.js <dashboard URL with ?token=…> docs/dashboard.png
 */

/** The browser: `CHEESECHAIN_CHROMIUM` or Debian's package. */
export const CHROMIUM = process.env.CHEESECHAIN_CHROMIUM ?? '/usr/bin/chromium';
/**
 * Viewport of the pictures, CSS pixels: wide enough for the page's two
 * columns, tall enough that the top of the page shows the status bar, the
 * four buttons, the peer list, the transaction form and the mining race's
 * charts at once.
 */
export const SCREENSHOT_VIEWPORT = { width: 1300, height: 1230 };

/** The page's views, each a `<section>` found by its heading (web/src/main.tsx). */
export const DASHBOARD_VIEWS = {
  'peer-list': 'Peer list',
  'create-transaction': 'Create transaction',
  'mining-race': 'The mining race',
  'cheese-stack': 'Cheese stack',
  'block-detail': 'Block detail',
  narration: 'Narration',
} as const;
export type DashboardView = keyof typeof DASHBOARD_VIEWS;

/** Writes `<dir>/<name>.png`: one view of the page (its section), as it is now. */
export async function screenshotView(page: Page, dir: string, view: DashboardView, name: string = view): Promise<string> {
  const path = join(dir, `${name}.png`);
  mkdirSync(dir, { recursive: true });
  const heading = page.getByRole('heading', { level: 2, name: DASHBOARD_VIEWS[view] });
  await page.locator('section').filter({ has: heading }).screenshot({ path });
  return path;
}

/**
 * Writes the top of the page at {@link SCREENSHOT_VIEWPORT} to `path`: the
 * status bar, document 003's four buttons, the peer list, the transaction
 * form and the mining race with its charts.
 */
export async function screenshotOverview(page: Page, path: string): Promise<string> {
  mkdirSync(dirname(path), { recursive: true });
  await page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0));
  await page.screenshot({ path });
  return path;
}

/** Points of the hash-rate chart the README's picture waits for. */
const HASH_POINTS_SHOWN = 8;

/**
 * Opens a running peer's dashboard (the URL it printed, with its token),
 * waits until the page is live and its charts have points, and writes the
 * overview to `path`.
 * @throws when the page does not become live within `timeoutMs`.
 */
export async function screenshotRunningPeer(url: string, path: string, timeoutMs = 60_000): Promise<void> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const page = await (await browser.newContext({ viewport: SCREENSHOT_VIEWPORT })).newPage();
    await page.goto(url);
    await page.getByTestId('live').filter({ hasText: 'live' }).waitFor({ timeout: timeoutMs });
    await page.getByTestId('control').filter({ hasText: 'token ok' }).waitFor({ timeout: timeoutMs });
    // The hash-rate chart fills from the peer's mining-stats events (every 2 s while it mines), from when the page opened.
    await page.waitForFunction(
      (n) => Number((globalThis as unknown as { document: { querySelector(s: string): { getAttribute(a: string): string | null } | null } }).document.querySelector('[data-testid=chart-hashrate]')?.getAttribute('data-points')) >= n,
      HASH_POINTS_SHOWN,
      { timeout: timeoutMs },
    );
    await page.getByTestId('btn-peer-list').click();
    await page.getByTestId('narration').getByText(/peer list: \d+ member\(s\)/).waitFor({ timeout: timeoutMs });
    await page.mouse.move(0, SCREENSHOT_VIEWPORT.height - 1); // off the buttons: no hover colour in the picture
    await screenshotOverview(page, path);
  } finally {
    await browser.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [url, out] = process.argv.slice(2);
  if (!url || !out) {
    console.error('usage: node dist/test/helpers/dashboard-screenshots.js <dashboard URL with ?token=…> <picture.png>');
    process.exit(2);
  }
  await screenshotRunningPeer(url, out);
  console.log(`wrote ${out}`);
}
