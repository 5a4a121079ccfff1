// What the browser tests share. A script runs under the Rust test binary
// (tests/api/console/browser.rs), which started the service and answers `control()` requests
// for what happens outside the console: a citizen filing through the API, the simulated
// courier, the clock. The browser is Debian's chromium, driven by playwright-core.

import { createInterface } from 'node:readline';
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { chromium } from 'playwright-core';

export const BASE = process.env.BEEBOX_URL;
export const PASSWORD = process.env.BEEBOX_STAFF_PASSWORD;
const SHOTS = process.env.BEEBOX_SCREENSHOTS || '';

const lines = createInterface({ input: process.stdin });
const waiting = [];
lines.on('line', (line) => {
  const next = waiting.shift();
  if (next) next(line);
});

/** Asks the Rust side to do something (see browser.rs `handle`); resolves to its answer. */
export function control(cmd, args = {}) {
  return new Promise((resolve, reject) => {
    waiting.push((line) => {
      const reply = JSON.parse(line);
      if (reply.ok) resolve(reply.result);
      else reject(new Error(`control ${cmd}: ${reply.error}`));
    });
    process.stdout.write('@@' + JSON.stringify({ cmd, ...args }) + '\n');
  });
}

export function log(...args) {
  console.log('[browser]', ...args);
}

export function check(condition, message) {
  if (!condition) throw new Error('check failed: ' + message);
}

export function equal(actual, expected, message) {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Error(`${message}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A fresh browser profile at 1366×768 in Chinese. It records every request to our service and
 * every CSP violation or page error, which `clean()` asserts are none.
 */
export async function open(browser) {
  const context = await browser.newContext({
    viewport: { width: 1366, height: 768 },
    locale: 'zh-CN',
    acceptDownloads: true,
  });
  const page = await context.newPage();
  // CI runs two browser tests beside the rest of the suite on two cores: allow for it.
  page.setDefaultTimeout(60000);
  const requests = [];
  const problems = [];
  page.on('request', (r) => {
    if (r.url().startsWith(BASE + '/v1/')) requests.push(`${r.method()} ${new URL(r.url()).pathname}`);
  });
  page.on('console', (m) => {
    const text = m.text();
    if (/Content Security Policy|Refused to/.test(text)) problems.push('CSP: ' + text);
  });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.requests = requests;
  page.clean = () => {
    if (problems.length) throw new Error('the page reported problems:\n' + problems.join('\n'));
  };
  return { context, page };
}

/** A staff access token from the JSON login, for what a test does outside the browser. */
export async function staffToken(username, password = PASSWORD) {
  const res = await fetch(BASE + '/v1/staff/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!res.ok) throw new Error(`staff login of ${username}: ${res.status}`);
  return (await res.json()).access_token;
}

/** Calls the API with `token` (and a JSON `body`); resolves to the response. */
export function callAs(token, method, path, body) {
  const headers = { authorization: 'Bearer ' + token };
  if (body !== undefined) headers['content-type'] = 'application/json';
  return fetch(BASE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

export async function login(page, username, password = PASSWORD) {
  await page.goto(BASE + '/console/');
  await page.getByLabel('用户名').fill(username);
  await page.getByLabel('密码').fill(password);
  await page.getByRole('button', { name: '登录' }).click();
  await page.getByRole('navigation', { name: '主菜单' }).waitFor();
}

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** Runs axe-core on the page; fails on any serious or critical violation. */
export async function accessible(page, screen) {
  // evaluate() runs over the DevTools protocol, which the page's CSP does not govern.
  await page.evaluate(axeSource);
  const result = await page.evaluate(() =>
    window.axe.run(document, { resultTypes: ['violations'] }),
  );
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length) {
    const text = bad
      .map((v) => `${v.impact} ${v.id}: ${v.help}\n  ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('\n  ')}`)
      .join('\n');
    throw new Error(`accessibility violations on ${screen}:\n${text}`);
  }
  log(`axe: ${screen} has no serious or critical violations (${result.violations.length} minor)`);
}

/** A screenshot for docs/console when BEEBOX_SCREENSHOTS names a folder. */
export async function shot(page, name) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}/${name}.png` });
}

/** Runs `body`, closes the browser, and exits 0 or 1 for the Rust side. */
export async function run(body) {
  const browser = await launch();
  try {
    await body(browser);
    log('passed');
    await browser.close();
    process.exit(0);
  } catch (e) {
    console.error('[browser] FAILED:', e.stack || e);
    // What the clerk saw at that moment: every open page's alerts, and a screenshot.
    let n = 0;
    for (const context of browser.contexts()) {
      for (const page of context.pages()) {
        const alerts = await page.getByRole('alert').allTextContents().catch(() => []);
        // What the screen said, for a run whose screenshot is gone with its machine.
        const text = await page.locator('body').innerText().catch(() => '');
        console.error(`[browser] page ${n + 1} text: ${text.replace(/\s+/g, ' ').slice(0, 1500)}`);
        const path = `${SHOTS || tmpdir()}/failure-${++n}.png`;
        await page.screenshot({ path }).catch(() => {});
        console.error(`[browser] page ${n} at ${page.url()}: alerts ${JSON.stringify(alerts)}; screenshot ${path}`);
      }
    }
    await browser.close().catch(() => {});
    process.exit(1);
  }
}
