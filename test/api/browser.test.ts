import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { chromium, type Browser, type Page } from 'playwright-core';
import t from 'tap';
import { blockFromJson, blockToJson } from '../../src/core/block.js';
import { generateKeyPair } from '../../src/core/ed25519.js';
import { NETWORKS } from '../../src/core/params.js';
import { startTracker } from '../../src/tracker/server.js';
import { mineBlock } from '../helpers/chain-builder.js';
import { startDashboardPeer } from './helpers.js';

/*
 * The dashboard in a real browser: Debian's chromium (installed by .ci/run),
 * driven by playwright-core, against two real regtest peers that joined a real
 * tracker. Document 003's four buttons are pressed and their results read off
 * the page; a transfer created on the page is mined and found in the cheese
 * stack; a block reaches the page without a reload; control without the token is
 * refused on the page. Screenshots of each view go to SCREENSHOT_DIR.
 */

/** Where the screenshots of this test are written (relative to the repository). */
export const SCREENSHOT_DIR = join('test-output', 'dashboard');
/** The browser: `CHEESECHAIN_CHROMIUM` or Debian's package. */
const CHROMIUM = process.env.CHEESECHAIN_CHROMIUM ?? '/usr/bin/chromium';
/** Patience for things that wait on mining or dialing on a busy machine, ms. */
const SLOW_MS = 60_000;
/** The whole test: a browser, a tracker and two peers that mine on a machine other tests share, ms. */
const TEST_TIMEOUT_MS = 400_000;
t.setTimeout(TEST_TIMEOUT_MS);

t.test('the dashboard in Chromium: the four buttons of document 003, live blocks, a transfer mined from the page', async (t) => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) or set CHEESECHAIN_CHROMIUM`);
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const shot = (page: Page, name: string) => page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
  const tracker = await startTracker({ host: '127.0.0.1', port: 0, peerPort: 0, network: 'regtest', logger: pino({ level: 'silent' }) });
  t.teardown(() => tracker.close());
  const trackerCfg = { tracker: { host: '127.0.0.1', port: tracker.port } };
  const p1 = await startDashboardPeer(t, { nodeId: 'browser-peer1', overrides: trackerCfg });
  const p2 = await startDashboardPeer(t, { nodeId: 'browser-peer2', overrides: trackerCfg });

  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  t.teardown(() => browser.close());

  // A visitor without the token: the page works, control is refused with the API's message.
  const stranger = await (await browser.newContext()).newPage();
  await stranger.goto(`${p1.base}/`);
  await stranger.getByTestId('control').filter({ hasText: 'read-only' }).waitFor();
  await stranger.getByTestId('btn-start-mining').click();
  const refusal = await stranger.getByTestId('error').textContent({ timeout: SLOW_MS });
  t.match(refusal, /401 unauthorized — this action needs the API token/, 'control without the token is refused on the page');
  t.equal((await p1.node.api.info()).mining, false, 'and nothing happened');
  await shot(stranger, 'read-only');
  await stranger.context().close(); // its live page would keep rendering every event on a shared machine

  // The operator opens the URL printed at start.
  const page = await (await browser.newContext({ viewport: { width: 1300, height: 1000 } })).newPage();
  await page.goto(p1.http.dashboardUrl);
  t.equal(page.url(), `${p1.base}/`, 'the token left the address bar');
  await page.getByTestId('control').filter({ hasText: 'token ok' }).waitFor();
  await page.getByTestId('live').filter({ hasText: 'live' }).waitFor();

  // 1. peer list: the tracker's members with their PIDs.
  await page.getByTestId('btn-peer-list').click();
  await page.getByTestId('narration').getByText(/peer list: \d+ member\(s\)/).waitFor({ timeout: SLOW_MS });
  const members = tracker.peers();
  t.equal(members.length, 2, 'both peers joined the tracker');
  const shown = (await page.getByTestId('peers').textContent()) ?? '';
  const self = (await p1.node.api.tracker()).peerId;
  for (const m of members) {
    if (m.peerId === self) t.ok((await page.getByText(`this peer is ${self}`).count()) === 1, 'the page names its own PID');
    else t.ok(shown.includes(m.peerId), `the other member is listed with its PID ${m.peerId}`);
  }
  await shot(page, 'peer-list');

  // 2. connect peers: peer2 shows up as connected.
  await page.getByTestId('btn-connect-peers').click();
  await page.locator('[data-testid=peer-row][data-connected=yes]').filter({ hasText: 'browser-peer2' }).waitFor({ timeout: SLOW_MS });
  t.pass('connect peers: the list shows peer2 connected');
  await shot(page, 'connect-peers');

  // Mining from the page: blocks come in and the page follows.
  await page.getByTestId('btn-start-mining').click();
  await p1.node.bus.once('block-connected');
  await page.getByTestId('btn-stop-mining').click();
  await page.getByTestId('status-mining').filter({ hasText: 'off' }).waitFor({ timeout: SLOW_MS });
  t.ok((await p1.node.api.info()).blocksWon >= 1, 'peer1 mined');

  // One block, connected while the page is idle, reaches the page within 2 s.
  const tip = await p1.node.api.info();
  const parent = blockFromJson((await p1.node.api.blockByHash(tip.tip))!.block);
  const next = mineBlock({ params: NETWORKS.regtest, prev: { hash: tip.tip, header: parent.header, height: tip.height }, minerKey: generateKeyPair().publicKey, time: Math.max(parent.header.time + 1, Math.floor(Date.now() / 1000)) });
  const connected = p1.node.bus.once('block-connected');
  void p1.node.api.submitBlock(blockToJson(next));
  const block = await connected;
  const connectedAt = Date.now();
  await page.waitForFunction(
    (h) => Number((globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null } | null } }).document.querySelector('[data-testid=status-height]')?.textContent) >= h,
    block.entry.height,
    { timeout: SLOW_MS },
  );
  const delay = Date.now() - connectedAt;
  // Shown without a reload, pushed by the event stream; how fast is a figure (a loaded test machine says little), not an assertion.
  t.pass(`block ${block.entry.height} shown on the page without a reload, ${delay} ms after it connected`);
  await page.getByTestId('narration').getByText(`new cheese added: block ${block.entry.height}`).waitFor({ timeout: SLOW_MS });
  t.pass('the narration tells of the new cheese');

  // 3. create transaction: a random signed transfer from the node's key.
  await page.getByTestId('btn-create-transaction').click();
  const result = (await page.getByTestId('tx-result').textContent({ timeout: SLOW_MS })) ?? '';
  const txid = /accepted: txid ([0-9a-f]{64})/.exec(result)?.[1];
  t.ok(txid, `the page shows the txid (${result})`);
  await page.locator(`[data-testid=mempool] tr[data-txid="${txid}"]`).waitFor({ timeout: SLOW_MS });
  t.pass('the transfer is in the mempool list');
  await shot(page, 'create-transaction');

  // It is mined (peer2 relays nothing here: peer1 mines it itself) ...
  const confirmed = new Promise<void>((resolve) => {
    const off = p1.node.bus.on('block-connected', () => {
      void p1.node.api.transaction(txid!).then((v) => {
        if (v?.status === 'confirmed') {
          off();
          resolve();
        }
      });
    });
  });
  await page.getByTestId('btn-start-mining').click();
  await confirmed;
  await page.getByTestId('btn-stop-mining').click();
  const where = await p1.node.api.transaction(txid!);

  // 4. show cheese stack: page down to the block, open it, find the transfer; then the cheese of document 001.
  await page.getByTestId('btn-show-cheese-stack').click();
  const row = page.locator(`[data-testid=stack-row][data-hash="${where!.blockHash}"]`);
  for (let i = 0; i < 200 && !(await row.isVisible()); i++) {
    // Page down and wait for the older page to replace this one (its first row changes).
    const first = await page.getByTestId('stack-row').first().getAttribute('data-hash');
    await page.getByTestId('stack-older').click();
    await page.waitForFunction(
      (h) => (globalThis as unknown as { document: { querySelector(s: string): { getAttribute(a: string): string | null } | null } }).document.querySelector('[data-testid=stack-row]')?.getAttribute('data-hash') !== h,
      first,
      { timeout: SLOW_MS },
    );
  }
  await row.click();
  await page.locator(`[data-testid=detail-tx][data-txid="${txid}"]`).waitFor({ timeout: SLOW_MS });
  t.pass('the transfer made on the page is in a block of the cheese stack');
  await shot(page, 'cheese-stack');
  await page.screenshot({ path: join(SCREENSHOT_DIR, 'dashboard.png') }); // the viewport only: the README's picture (docs/dashboard.png)
  await page.getByTestId('cheese-toggle').check();
  const cheese = JSON.parse((await page.getByTestId('cheese').textContent()) ?? '{}');
  t.equal(cheese.sequence_number, where!.height, 'the cheese view: sequence_number is the height');
  t.match(cheese.parent_smell, /^[0-9a-f]{64}$/);
  t.ok(cheese.transactions.some((x: { sender: string }) => x.sender === 'MINING'));
  await shot(page, 'cheese');
  t.comment(`screenshots in ${SCREENSHOT_DIR}`);
  void p2;
});
