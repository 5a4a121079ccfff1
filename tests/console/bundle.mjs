// A case filed as an item of a bundle (一件事): the reviewer of one department sees which
// bundle it came in, and only their own department's item of it.

import { BASE, run, open, login, control, accessible, check, equal, log, shot } from './lib.mjs';

run(async (browser) => {
  await control('seed_staff', { username: 'power1', roles: 'reviewer', departments: 'power-supply' });
  const filing = await control('submitted_filing', { name: 'sun', seed: 50 });
  const power = filing.items.find((i) => i.department.code === 'power-supply');
  const water = filing.items.find((i) => i.department.code === 'water-supply');

  const { page } = await open(browser);
  await login(page, 'power1');
  await page.goto(BASE + '/console/#/review');
  const rows = page.locator('table tbody tr');
  await rows.first().waitFor();
  equal(await rows.count(), 1, 'the queue holds this department\'s item only');

  await page.goto(`${BASE}/console/#/review/${power.application_id}`);
  const tag = page.locator('.toolbar .bundle');
  await tag.waitFor();
  check((await tag.textContent()).includes(filing.bundle_name), 'the case says which bundle it came in');
  // The shared materials were uploaded once and fill this item too.
  await page.getByRole('heading', { name: '房屋买卖合同' }).waitFor();
  await accessible(page, 'review case of a bundle item');
  await shot(page, 'review-bundle');

  // Another department's item of the same bundle is not this reviewer's to open.
  await page.goto(`${BASE}/console/#/review/${water.application_id}`);
  await page.getByRole('alert').waitFor();
  log('bundle item shown with its bundle; the sibling item stays hidden');
});
