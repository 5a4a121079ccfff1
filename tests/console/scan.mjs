// Reception's scan box as a barcode scanner uses it: it types the waybill number and presses
// Enter. A number that matches no case says so plainly and changes nothing; the box clears and
// keeps focus for the next scan. A real number opens the case; after a mismatch, scanning it
// again says where the case stands instead.

import { BASE, run, open, login, control, accessible, check, equal, log } from './lib.mjs';

const DEPT = 'civil-affairs';

/** What a scanner does: the digits, then Enter, into whatever has focus. */
async function scan(page, number) {
  await page.keyboard.type(number, { delay: 5 });
  await page.keyboard.press('Enter');
}

const focusedId = (page) => page.evaluate(() => document.activeElement && document.activeElement.id);

run(async (browser) => {
  await control('seed_staff', { username: 'desk1', roles: 'reception', departments: DEPT });
  const arrived = await control('arrived_case', { name: 'zhao' });
  const started = Date.now();

  const { page } = await open(browser);
  await login(page, 'desk1');
  await page.goto(BASE + '/console/#/reception');
  await page.getByRole('heading', { name: '到件待收' }).waitFor();
  const rows = page.locator('table.arrived tbody tr');
  await rows.filter({ hasText: arrived.waybill_no }).waitFor();
  equal(await focusedId(page), 'scan-waybill', 'the scan box has focus on load');
  const before = await rows.allTextContents();

  // --- A number that matches nothing: a plain message, nothing else changes.
  page.requests.length = 0;
  await scan(page, 'SF9999999999999');
  const message = page.locator('#scan-result');
  await message.filter({ hasText: '未找到' }).waitFor();
  check((await message.textContent()).includes('SF9999999999999'), 'the message names the number scanned');
  equal(await message.getAttribute('role'), 'alert', 'the message is announced');
  equal(new URL(page.url()).hash, '#/reception', 'the screen stays on the list');
  equal(await rows.allTextContents(), before, 'the list is unchanged');
  equal(await page.locator('#scan-waybill').inputValue(), '', 'the box is cleared');
  equal(await focusedId(page), 'scan-waybill', 'the box keeps focus');
  equal(
    page.requests.filter((r) => !/^GET \/v1\/(matters|objects)/.test(r)),
    ['GET /v1/reception/waybills/SF9999999999999'],
    'a miss costs one lookup and writes nothing',
  );
  await accessible(page, 'reception scan not found');

  // --- The next scan, straight away: the real parcel opens its case.
  await scan(page, arrived.waybill_no);
  await page.waitForURL(`**/console/#/reception/${arrived.id}`);
  await page.getByRole('heading', { name: '核对原件' }).waitFor();

  // The photo of the application form does not match its original.
  await page.locator('#orig-id-photo').check();
  await page.getByRole('button', { name: '原件相符' }).click();
  await page.getByRole('alert').filter({ hasText: '还有原件未核对' }).waitFor();
  await page.getByRole('button', { name: '原件不符' }).click();
  await page.getByRole('alert').filter({ hasText: '须写明说明' }).waitFor();
  await page.getByLabel('说明（原件不符时必填，将告知申请人）').fill('申请表签字与照片不一致');
  await page.getByRole('button', { name: '原件不符' }).click();
  await page.getByText('已登记原件不符').waitFor();
  const citizen = await control('citizen_case', { token: arrived.token, id: arrived.id });
  equal(citizen.state, 'returned', 'the mismatch returns the case to the citizen');
  equal(
    citizen.return_reasons.map((r) => [r.material_code, r.reason]),
    [['application-form', '申请表签字与照片不一致']],
    'the unchecked original is named, with the note',
  );
  equal(await focusedId(page), 'scan-waybill', 'back on the list, the box has focus again');

  // --- Scanning it again says where it stands, and opens nothing.
  await scan(page, arrived.waybill_no);
  await message.filter({ hasText: '无需再次收件' }).waitFor();
  check((await message.textContent()).includes('已退回补正'), 'the message gives the state');
  equal(new URL(page.url()).hash, '#/reception', 'still on the list');
  page.clean();
  log(`scan script took ${Date.now() - started} ms`);
});
