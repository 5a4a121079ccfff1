// The console's load and speed, measured in Debian's chromium against a running service
// (scripts/bench-console.sh seeds it): bytes of a cold first load, time until the queue is
// interactive (cold and warm cache), and time until the next page image shows in the viewer,
// each beside the floor measured in the same run (the bare API round trip, the bare image GET).
// Prints one JSON object.

import { launch } from './lib.mjs';

const [BASE, USER, PASSWORD] = process.argv.slice(2);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p90 = (xs) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.9))];
const round = (x) => Math.round(x * 10) / 10;

const browser = await launch();
const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN' });
const page = await context.newPage();
const cdp = await context.newCDPSession(page);
await cdp.send('Network.enable');
let transferred = 0;
const files = [];
cdp.on('Network.loadingFinished', (e) => (transferred += e.encodedDataLength));
cdp.on('Network.responseReceived', (e) => files.push(new URL(e.response.url).pathname));

// 1. Cold first load: the login page, logging in, and the queue with its screen module.
await page.goto(BASE + '/console/');
await page.getByLabel('用户名').fill(USER);
await page.getByLabel('密码').fill(PASSWORD);
await page.getByRole('button', { name: '登录' }).click();
await page.locator('table.queue tbody tr a').first().waitFor();
await page.waitForLoadState('networkidle');
const coldBytes = transferred;
const coldFiles = files.filter((f) => f.startsWith('/console/')).length;

// 2. The queue interactive after navigation: rows shown and "next case" enabled.
let visit = 0;
async function queueReady(clearCache) {
  if (clearCache) await cdp.send('Network.clearBrowserCache');
  // A new query each time: a hash change alone would not load the page again.
  await page.goto(`${BASE}/console/?visit=${++visit}#/review`, { waitUntil: 'commit' });
  await page.locator('table.queue tbody tr a').first().waitFor();
  await page.locator('#claim-next:not([disabled])').waitFor();
  return page.evaluate(() => performance.now());
}
const cold = [];
const warm = [];
for (let i = 0; i < 10; i++) cold.push(await queueReady(true));
for (let i = 0; i < 10; i++) warm.push(await queueReady(false));
const token = await page.evaluate(async () => {
  const r = await fetch('/v1/console/session/refresh', { method: 'POST' });
  return (await r.json()).access_token;
});
const queueFloor = [];
for (let i = 0; i < 10; i++) {
  queueFloor.push(
    await page.evaluate(async (t) => {
      const start = performance.now();
      await (await fetch('/v1/review/queue?limit=100', { headers: { authorization: 'Bearer ' + t } })).json();
      return performance.now() - start;
    }, token),
  );
}

// 3. The next page image: from the key press to the image decoded, over every page of a case.
await page.goto(BASE + '/console/#/review');
await page.locator('table.queue tbody tr a').first().waitFor();
await page.keyboard.press('n');
await page.locator('#page-image').waitFor();
await page.waitForFunction(() => document.querySelector('#page-image').complete);
const nextPage = [];
const imageFloor = [];
for (let round_ = 0; round_ < 10; round_++) {
  for (const key of ['ArrowRight', 'ArrowRight', 'ArrowLeft', 'ArrowLeft']) {
    const ms = await page.evaluate(
      (key) =>
        new Promise((resolve) => {
          const before = document.querySelector('#page-image').getAttribute('src');
          const start = performance.now();
          window.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true }));
          const poll = () => {
            const img = document.querySelector('#page-image');
            if (img && img.getAttribute('src') !== before && img.complete && img.naturalWidth > 0) {
              img.decode().then(() => requestAnimationFrame(() => resolve(performance.now() - start)));
            } else requestAnimationFrame(poll);
          };
          poll();
        }),
      key,
    );
    nextPage.push(ms);
  }
  // The floor: the same thumbnail fetched bare, bypassing the cache.
  const src = await page.locator('#page-image').getAttribute('src');
  imageFloor.push(
    await page.evaluate(async (src) => {
      const start = performance.now();
      await (await fetch(src, { cache: 'no-store' })).blob();
      return performance.now() - start;
    }, src),
  );
}
await browser.close();

console.log(
  JSON.stringify({
    cold_load_bytes: coldBytes,
    cold_load_console_files: coldFiles,
    queue_interactive_cold_ms: { median: round(median(cold)), p90: round(p90(cold)) },
    queue_interactive_warm_ms: { median: round(median(warm)), p90: round(p90(warm)) },
    queue_api_round_trip_ms: { median: round(median(queueFloor)), p90: round(p90(queueFloor)) },
    next_page_shown_ms: { median: round(median(nextPage)), p90: round(p90(nextPage)), n: nextPage.length },
    thumbnail_get_ms: { median: round(median(imageFloor)), p90: round(p90(imageFloor)) },
  }),
);
