import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { chromium, type Browser } from 'playwright-core';
import t from 'tap';
import { blockFromJson, blockToJson, type Block } from '../../src/core/block.js';
import { generateKeyPair } from '../../src/core/ed25519.js';
import { fromHex } from '../../src/core/encoding.js';
import { NETWORKS } from '../../src/core/params.js';
import { startTracker } from '../../src/tracker/server.js';
import { mineBlock } from '../helpers/chain-builder.js';
import { CHROMIUM, SCREENSHOT_VIEWPORT, screenshotOverview, screenshotView } from '../helpers/dashboard-screenshots.js';
import { startDashboardPeer, type DashboardPeer } from './helpers.js';

/*
 * The dashboard in a real browser: Debian's chromium (installed by .ci/run),
 * driven by playwright-core, against two real regtest peers that joined a real
 * tracker. Document 003's four buttons are pressed and their results read off
 * the page; a transfer created on the page is mined by the peer's own miner,
 * started from the page, and found in the cheese stack; a block reaches the
 * page without a reload; control without the token is refused on the page.
 * A picture of each view goes to SCREENSHOT_DIR.
 *
 * Time goes to the browser and to the peers' work, never to waiting for
 * blocks: regtest blocks are found at once, the blocks that fund the peer's key
 * are mined by the test and submitted, and every wait is for something to
 * show on the page or to happen in the node.
 */

/** Where the screenshots of this test are written (relative to the repository). */
export const SCREENSHOT_DIR = join('test-output', 'dashboard');
/** Patience for things that wait on mining or dialing on a busy machine, ms. */
const SLOW_MS = 60_000;
/** The whole test: a browser, a tracker and two peers on a machine other tests share, ms. */
const TEST_TIMEOUT_MS = 400_000;
t.setTimeout(TEST_TIMEOUT_MS);

/** Mines (in the test) and submits the block on peer `p`'s tip paying `minerKey` (hex); resolves when it is connected. */
async function submitNextBlock(p: DashboardPeer, minerKey: string): Promise<{ block: Block; height: number }> {
  const tip = await p.node.api.info();
  const parent = blockFromJson((await p.node.api.blockByHash(tip.tip))!.block);
  const block = mineBlock({ params: NETWORKS.regtest, prev: { hash: tip.tip, header: parent.header, height: tip.height }, minerKey: fromHex(minerKey), time: Math.max(parent.header.time + 1, Math.floor(Date.now() / 1000)) });
  const r = await p.node.api.submitBlock(blockToJson(block));
  if (r.status !== 'connected') throw new Error(`the test's block at height ${tip.height + 1} was ${r.status}`);
  return { block, height: tip.height + 1 };
}

t.test('the dashboard in Chromium: the four buttons of document 003, live blocks, a transfer mined from the page', async (t) => {
  const began = Date.now();
  const step = (what: string): void => void t.comment(`${what}: ${((Date.now() - began) / 1000).toFixed(1)} s into the test`);
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) or set CHEESECHAIN_CHROMIUM`);
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const tracker = await startTracker({ host: '127.0.0.1', port: 0, peerPort: 0, network: 'regtest', logger: pino({ level: 'silent' }) });
  t.teardown(() => tracker.close());
  const trackerCfg = { tracker: { host: '127.0.0.1', port: tracker.port } };
  const [p1, p2] = await Promise.all([
    startDashboardPeer(t, { nodeId: 'browser-peer1', overrides: trackerCfg }),
    startDashboardPeer(t, { nodeId: 'browser-peer2', overrides: trackerCfg }),
  ]);
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  t.teardown(() => browser.close());
  // One browser, one tab: first a visitor without the token, then the operator with it (one renderer process).
  const page = await (await browser.newContext({ viewport: SCREENSHOT_VIEWPORT })).newPage();
  step('peers and chromium started');

  // A visitor without the token: the page works, control is refused with the API's message.
  await page.goto(`${p1.base}/`);
  await page.getByTestId('control').filter({ hasText: 'read-only' }).waitFor();
  await page.getByTestId('btn-start-mining').click();
  const refusal = await page.getByTestId('error').textContent({ timeout: SLOW_MS });
  t.match(refusal, /401 unauthorized — this action needs the API token/, 'control without the token is refused on the page');
  t.equal((await p1.node.api.info()).mining, false, 'and nothing happened');
  await screenshotOverview(page, join(SCREENSHOT_DIR, 'read-only.png'));
  step('read-only page checked');

  // The operator opens the URL printed at start.
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
  await screenshotView(page, SCREENSHOT_DIR, 'peer-list');
  step('peer list shown');

  // 2. connect peers: peer2 shows up as connected.
  await page.getByTestId('btn-connect-peers').click();
  await page.locator('[data-testid=peer-row][data-connected=yes]').filter({ hasText: 'browser-peer2' }).waitFor({ timeout: SLOW_MS });
  t.pass('connect peers: the list shows peer2 connected');
  await screenshotView(page, SCREENSHOT_DIR, 'peer-list', 'connect-peers');
  step('peer2 connected');

  // Blocks from elsewhere, connected while the page is idle: the first pays peer1's key (the coins
  // its transfer will spend: a coinbase matures one block later on regtest), the second someone else.
  const me = (await p1.node.api.info()).miningAddress!;
  await submitNextBlock(p1, me);
  const connected = p1.node.bus.once('block-connected');
  void submitNextBlock(p1, Buffer.from(generateKeyPair().publicKey).toString('hex'));
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
  step('live block shown');

  // 3. create transaction: a random signed transfer from the node's key.
  await page.getByTestId('btn-create-transaction').click();
  const result = (await page.getByTestId('tx-result').textContent({ timeout: SLOW_MS })) ?? '';
  const txid = /accepted: txid ([0-9a-f]{64})/.exec(result)?.[1];
  t.ok(txid, `the page shows the txid (${result})`);
  await page.locator(`[data-testid=mempool] tr[data-txid="${txid}"]`).waitFor({ timeout: SLOW_MS });
  t.pass('the transfer is in the mempool list');
  await screenshotView(page, SCREENSHOT_DIR, 'create-transaction');
  step('transfer in the mempool list');

  // Mining from the page: peer1's own miner mines the transfer, and the page follows.
  const wonBefore = (await p1.node.api.info()).blocksWon;
  const mined = p1.node.bus.once('block-mined');
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
  await Promise.all([mined, confirmed]);
  await page.getByTestId('btn-stop-mining').click();
  await page.getByTestId('status-mining').filter({ hasText: 'off' }).waitFor({ timeout: SLOW_MS });
  t.ok((await p1.node.api.info()).blocksWon > wonBefore, 'peer1 mined');
  const where = await p1.node.api.transaction(txid!);
  await screenshotView(page, SCREENSHOT_DIR, 'mining-race');
  step('transfer mined');

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
  await screenshotView(page, SCREENSHOT_DIR, 'cheese-stack');
  await screenshotView(page, SCREENSHOT_DIR, 'block-detail');
  await page.getByTestId('cheese-toggle').check();
  const cheese = JSON.parse((await page.getByTestId('cheese').textContent()) ?? '{}');
  t.equal(cheese.sequence_number, where!.height, 'the cheese view: sequence_number is the height');
  t.match(cheese.parent_smell, /^[0-9a-f]{64}$/);
  t.ok(cheese.transactions.some((x: { sender: string }) => x.sender === 'MINING'));
  await screenshotView(page, SCREENSHOT_DIR, 'block-detail', 'cheese');
  await screenshotView(page, SCREENSHOT_DIR, 'narration');
  await screenshotOverview(page, join(SCREENSHOT_DIR, 'overview.png'));
  step('cheese stack shown');
  t.comment(`screenshots in ${SCREENSHOT_DIR}`);
  void p2;
});
