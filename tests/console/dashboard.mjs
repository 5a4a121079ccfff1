// The dashboard in a real browser: after a case is filed and returned, the reviewer sees the
// filing in the heat map and the top items, the return's stage time, and the material's return
// rate with its reason; a reviewer of another department sees none of it.

import { run, open, login, control, accessible, shot, check, equal, staffToken, callAs } from './lib.mjs';

const DEPT = 'human-resources-social-security';

run(async (browser) => {
  await control('seed_staff', { username: 'rev1', roles: 'reviewer', departments: DEPT });
  await control('seed_staff', { username: 'rev2', roles: 'reviewer', departments: 'civil-affairs' });
  const citizen = await control('submitted_case', { name: 'zhang', seed: 9 });
  const token = await staffToken('rev1');
  const claimed = await (await callAs(token, 'POST', '/v1/review/claim-next')).json();
  equal(claimed.id, citizen.id, 'the reviewer claimed the case');
  const decided = await callAs(token, 'POST', `/v1/review/applications/${citizen.id}/decision`, {
    outcome: 'return',
    reasons: [{ material_code: 'id-photo', reason: '背景不是白色' }],
  });
  equal(decided.status, 200, 'the return');

  const { page } = await open(browser);
  await login(page, 'rev1');
  await page.getByRole('link', { name: '统计' }).click();
  await page.getByRole('heading', { name: '统计' }).waitFor();
  await page.getByText('共 1 件首次申报').waitFor();
  const cell = page.locator('table.heatmap td[class^="heat-"]:not(.heat-0)');
  equal(await cell.count(), 1, 'one hour of one weekday has a filing');
  equal((await cell.textContent()).trim(), '1', 'the cell counts it');
  await page.locator('ol.bars').getByText('社会保障卡补换').waitFor();
  const prereview = page.getByRole('row', { name: /提交 → 预审结论/ });
  equal((await prereview.locator('td').first().textContent()).trim(), '1', 'one pre-review stage ended');
  const returned = page.getByRole('row', { name: /背景不是白色/ });
  await returned.waitFor();
  check((await returned.textContent()).includes('100.0%'), 'the ID photo came back every time');
  await accessible(page, 'dashboard');
  await shot(page, 'dashboard');
  page.clean();

  const other = await open(browser);
  await login(other.page, 'rev2');
  await other.page.getByRole('link', { name: '统计' }).click();
  await other.page.getByText('共 0 件首次申报').waitFor();
  await other.page.getByText('该期间没有预审记录').waitFor();
  other.page.clean();
});
