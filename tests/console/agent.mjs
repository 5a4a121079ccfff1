// A case an agent filed at a village service point for a resident on a signed form: the
// reviewer sees who filed it, where, for whom and how it was authorized, with the signed form
// among the materials; the dashboard counts the filing under its service point.

import { BASE, run, open, login, control, accessible, check, equal, log, shot } from './lib.mjs';

run(async (browser) => {
  await control('seed_staff', { username: 'civil1', roles: 'reviewer', departments: 'civil-affairs' });
  const kase = await control('agent_case', { seed: 70 });

  const { page } = await open(browser);
  await login(page, 'civil1');
  await page.goto(`${BASE}/console/#/review/${kase.id}`);
  const tag = page.locator('.toolbar .bundle');
  await tag.waitFor();
  check((await tag.textContent()).includes('longwangba 便民服务站'), 'the case names its service point');
  const panel = page.getByRole('region', { name: '代办' });
  await panel.waitFor();
  const text = await panel.textContent();
  check(text.includes('由代办员 agent.ma 在'), `the agent is named: ${text}`);
  check(text.includes('代 王德福 申报'), `the resident is named: ${text}`);
  check(text.includes('签字的授权委托书'), `the method is named: ${text}`);
  check(text.includes('待确认'), `the form awaits pre-review: ${text}`);
  // The signed form is one of the materials the reviewer checks.
  await page.getByRole('heading', { name: '授权委托书' }).waitFor();
  await accessible(page, 'review case filed by an agent');
  await shot(page, 'review-agent');

  await page.getByRole('link', { name: '统计' }).click();
  const points = page.getByRole('region', { name: '代办点申报' });
  const row = points.getByRole('row', { name: /longwangba 便民服务站/ });
  await row.waitFor();
  equal((await row.locator('td').first().textContent()).trim(), '1', 'one filing at the point');
  log('agent filing shown to the reviewer and counted per service point');
});
