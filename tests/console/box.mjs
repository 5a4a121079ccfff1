// Emptying the 24-hour box at reception's desk: start a run, scan envelopes as a scanner types
// (the code, Enter), each answered plainly: a received envelope names where to check it, a
// mistyped or repeated code says what to do with the envelope and changes nothing. The received
// case then waits in the list of arrivals with the box as its channel; a late drop is listed.

import { BASE, run, open, login, control, accessible, check, equal, shot, log } from './lib.mjs';

const DEPT = 'civil-affairs';

async function scan(page, code) {
  await page.keyboard.type(code, { delay: 5 });
  await page.keyboard.press('Enter');
}

const focusedId = (page) => page.evaluate(() => document.activeElement && document.activeElement.id);

run(async (browser) => {
  await control('seed_staff', { username: 'boxdesk', roles: 'reception', departments: DEPT });
  const late = await control('dropped_case', { name: 'late-dropper' });
  const dropped = await control('dropped_case', { name: 'dropper' });
  // Three days on, both drops are late: flagged, and their citizens reminded.
  await control('advance_clock', { secs: 3 * 24 * 3600 + 60 });
  const reminded = await control('remind_late_drops', {});
  equal(reminded.reminded, 2, 'both drops are late once the clock moved');
  const started = Date.now();

  const { page } = await open(browser);
  await login(page, 'boxdesk');
  await page.goto(BASE + '/console/#/reception/box');
  await page.getByRole('heading', { name: '投递箱' }).waitFor();
  equal(await page.locator('#box-waiting').textContent(), '2', 'two drops wait');
  const overdue = page.locator('table.overdue tbody tr');
  equal(await overdue.count(), 2, 'both late drops are listed');
  check((await overdue.allTextContents()).join(' ').includes(late.code), 'by their codes');
  await page.locator('[data-emptying]').first().waitFor();
  await accessible(page, 'reception box');

  // --- Start emptying: the scan box takes focus.
  await page.getByRole('button', { name: '开始开箱' }).click();
  await page.getByRole('heading', { name: /本次开箱/ }).waitFor();
  await page.locator('#scan-drop-code').waitFor();
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'scan-drop-code');

  // A mistyped code: the clerk is told to check it, nothing is received.
  await scan(page, 'ZZZZ-ZZZZ');
  const message = page.locator('#drop-result');
  await message.filter({ hasText: '无效' }).waitFor();
  equal(await message.getAttribute('role'), 'alert', 'the answer is announced');
  equal(await focusedId(page), 'scan-drop-code', 'the box keeps focus');

  // The real envelope, typed the way a clerk might: lower case, no dash.
  await scan(page, dropped.code.replace('-', '').toLowerCase());
  await message.filter({ hasText: '已签收投递码' }).waitFor();
  check((await message.textContent()).includes(dropped.code), 'the answer names the code');
  equal(await page.locator('#scan-drop-code').inputValue(), '', 'the box is cleared');
  // The same envelope again: already in, nothing changes.
  await scan(page, dropped.code);
  await message.filter({ hasText: '已扫描签收过' }).waitFor();
  // The run's list follows the answer: wait for its third row.
  await page.locator('table.box-scans tbody tr').nth(2).waitFor();
  const outcomes = await page.locator('table.box-scans tbody tr td:nth-child(3)').allTextContents();
  equal(outcomes, ['投递码无效', '已签收', '重复扫描'], 'the run keeps every scan');
  await page.locator('#box-waiting').filter({ hasText: '1' }).waitFor();
  equal(await overdue.count(), 1, 'the received drop is no longer late');
  check(!(await overdue.allTextContents()).join(' ').includes(dropped.code), 'the other one is');
  const citizen = await control('citizen_case', { token: dropped.token, id: dropped.id });
  equal(citizen.state, 'originals_in_transit', 'the received drop is at the centre');
  await accessible(page, 'reception box run');
  await shot(page, 'reception-box');

  // --- Close the run; the arrivals list shows the case with the box as its channel.
  await page.getByRole('button', { name: '结束开箱' }).click();
  await page.getByRole('button', { name: '开始开箱' }).waitFor();
  equal(await page.locator('#box-waiting').textContent(), '1', 'one drop still waits');
  await page.getByRole('link', { name: '到件待收' }).click();
  const row = page.locator('table.arrived tbody tr').filter({ hasText: dropped.code });
  await row.waitFor();
  check((await row.textContent()).includes('投递箱'), 'the arrival names the box as its channel');
  // The arrivals scanner opens it from the envelope's code, as from a waybill.
  await page.locator('#scan-waybill').focus();
  await scan(page, dropped.code);
  await page.waitForURL(`**/console/#/reception/${dropped.id}`);
  await page.getByRole('heading', { name: '核对原件' }).waitFor();
  page.clean();
  log(`box script took ${Date.now() - started} ms`);
});
