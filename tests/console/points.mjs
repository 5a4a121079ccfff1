// The admin registers a village service point and an agent attached to it, through the forms;
// the agent can then log in with the password the admin set and work through /v1/agent.

import { BASE, run, open, login, control, accessible, shot, check, equal, log, staffToken, callAs } from './lib.mjs';

const AGENT_PASSWORD = 'the village has one road';

run(async (browser) => {
  await control('seed_staff', { username: 'boss', roles: 'admin', departments: '' });
  const { page } = await open(browser);
  await login(page, 'boss');

  await page.goto(BASE + '/console/#/admin/points');
  await page.getByRole('heading', { name: '代办点', exact: true }).waitFor();
  await page.getByText('还没有代办点。').waitFor();
  const fill = async (label, value) => page.getByLabel(label, { exact: true }).fill(value);
  await fill('代码', 'xinying');
  await fill('名称', '新营乡便民服务站');
  await fill('省', '宁夏回族自治区');
  await fill('市', '固原市');
  await fill('区县', '西吉县');
  await fill('详细地址（快递上门取件、送达结果）', '新营乡新营村');
  await fill('联系人', '马站长');
  await fill('联系电话', '123');
  await page.getByLabel('区民政局').check();
  await page.getByRole('button', { name: '登记' }).click();
  // A bad phone is named, and nothing is registered.
  const alert = page.getByRole('alert');
  await alert.waitFor();
  check((await alert.textContent()).includes('address.phone'), 'the bad phone is named');
  await fill('联系电话', '13900139000');
  await page.getByRole('button', { name: '登记' }).click();
  await page.getByText('已登记 新营乡便民服务站。').waitFor();
  const row = page.locator('table tbody tr', { hasText: 'xinying' });
  await row.waitFor();
  check((await row.textContent()).includes('区民政局'), 'the point files civil affairs items');
  await accessible(page, 'admin service points');
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, 'admin-points');

  // An agent: the role alone, and the point instead of departments.
  await page.goto(BASE + '/console/#/admin/staff');
  await page.getByLabel('用户名', { exact: true }).fill('agent.xy');
  await page.getByLabel('姓名', { exact: true }).fill('马代办');
  await page.getByLabel('初始密码').fill(AGENT_PASSWORD);
  await page.locator('#new-role-agent').check();
  equal(await page.locator('#new-dept-civil-affairs').count(), 0, 'an agent has no departments to pick');
  await page.getByLabel('代办点').selectOption({ label: '新营乡便民服务站' });
  await page.getByRole('button', { name: '创建' }).click();
  await page.getByText('已创建 马代办（agent.xy）').waitFor();
  const member = page.locator('table.staff tbody tr', { hasText: 'agent.xy' });
  await member.waitFor();
  const text = await member.textContent();
  check(text.includes('代办员') && text.includes('新营乡便民服务站'), `the agent and their point: ${text}`);
  await accessible(page, 'admin staff with an agent');

  // The new agent works through the API, at their point only.
  const token = await staffToken('agent.xy', AGENT_PASSWORD);
  const listed = await callAs(token, 'GET', '/v1/agent/applications');
  equal(listed.status, 200, 'the agent lists their point\'s cases');
  equal((await listed.json()).items.length, 0, 'none yet');
  log('service point and agent created through the console');
});
