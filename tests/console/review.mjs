// The reviewer's console in a real browser: login refusals in plain words, the queue, "next
// case" on the keyboard, the page viewer, a return with a reason, the citizen's fix, approval
// (counting the requests it costs), department scoping, a session ended mid-decision and a claim
// lost while deciding, each keeping the draft. axe-core checks every screen.

import { BASE, PASSWORD, run, open, login, control, accessible, shot, check, equal, log, staffToken, callAs } from './lib.mjs';

const DEPT = 'human-resources-social-security';

run(async (browser) => {
  await control('seed_staff', { username: 'rev1', roles: 'reviewer', departments: DEPT });
  await control('seed_staff', { username: 'rev2', roles: 'reviewer', departments: 'civil-affairs' });
  await control('seed_staff', { username: 'locked1', roles: 'reviewer', departments: DEPT });
  await control('seed_staff', { username: 'admin1', roles: 'admin', departments: '' });
  const rev1 = await control('seed_staff', { username: 'rev1b', roles: 'reviewer', departments: DEPT });
  const citizen = await control('submitted_case', { name: 'zhang', seed: 11 });

  const { page } = await open(browser);

  // --- Login refusals, each in plain words.
  await page.goto(BASE + '/console/');
  await accessible(page, 'login');
  await shot(page, 'login');
  await page.getByLabel('用户名').fill('rev1');
  await page.getByLabel('密码').fill('wrong password');
  await page.getByRole('button', { name: '登录' }).click();
  await page.getByRole('alert').filter({ hasText: '用户名或密码不正确' }).waitFor();
  for (let i = 0; i < 5; i++) {
    await page.getByLabel('用户名').fill('locked1');
    await page.getByLabel('密码').fill('wrong password ' + i);
    await page.getByRole('button', { name: '登录' }).click();
    await page.getByRole('alert').waitFor();
    await page.waitForFunction(() => !document.querySelector('button[type=submit]').disabled);
  }
  await page.getByLabel('用户名').fill('locked1');
  await page.getByLabel('密码').fill(PASSWORD);
  await page.getByRole('button', { name: '登录' }).click();
  await page.getByRole('alert').filter({ hasText: '账号已暂时锁定' }).waitFor();
  const locked = await page.getByRole('alert').textContent();
  check(/请 \d+ 分钟后再试/.test(locked), `the lockout says how long: ${locked}`);
  await shot(page, 'login-locked');
  // A disabled account, with the right password.
  const gone = await control('seed_staff', { username: 'gone1', roles: 'reviewer', departments: DEPT });
  const adminToken = await staffToken('admin1');
  const disabled = await callAs(adminToken, 'POST', `/v1/admin/staff/${gone.id}/disable`);
  check(disabled.ok, `the admin disabled gone1: ${disabled.status}`);
  await page.getByLabel('用户名').fill('gone1');
  await page.getByLabel('密码').fill(PASSWORD);
  await page.getByRole('button', { name: '登录' }).click();
  await page.getByRole('alert').filter({ hasText: '该账号已被停用' }).waitFor();

  // --- The queue, and the next case on the keyboard.
  await login(page, 'rev1');
  await page.getByRole('heading', { name: '预审队列' }).waitFor();
  await page.locator('table.queue tbody tr').first().waitFor();
  await accessible(page, 'review queue');
  await shot(page, 'review-queue');
  page.requests.length = 0;
  await page.keyboard.press('n');
  await page.waitForURL(`**/console/#/review/${citizen.id}`);
  const image = page.locator('#page-image');
  await image.waitFor();
  // A thumbnail first; the original on demand.
  equal(await image.getAttribute('data-original'), 'false', 'the viewer opens on the thumbnail');
  const t0 = Date.now();
  await page.keyboard.press('ArrowRight');
  await page.getByText('第 2/2 页').waitFor();
  await page.waitForFunction(() => {
    const img = document.querySelector('#page-image');
    return img && img.complete && img.naturalWidth > 0;
  });
  log(`next page shown in ${Date.now() - t0} ms`);
  await page.keyboard.press('+');
  await page.keyboard.press('r');
  equal(await image.getAttribute('data-rotate'), '90', 'R rotates the page');
  check(Number(await image.getAttribute('data-zoom')) > 1, '+ zooms in');
  equal(await image.getAttribute('data-original'), 'true', 'zooming loads the original');
  await page.getByText('领取剩余').waitFor();
  check(!(await page.getByText('********').count()), 'the claim holder sees the ID number in full');
  await accessible(page, 'review case');
  await shot(page, 'review-case');

  // --- Return the ID photo with a common reason and a word of our own.
  await page.getByLabel('退回补正').check();
  await page.locator('#ret-id-photo').check();
  const pick = page.locator('select[id$="-pick"]').first();
  await pick.selectOption({ index: 1 });
  await page.locator('textarea[id$="-text"]').first().fill('背景须为白色');
  await shot(page, 'review-return');
  await page.keyboard.press('Control+Enter');
  await page.getByText('决定已提交').waitFor();
  await page.locator('.tag', { hasText: '已退回补正' }).waitFor();
  const returned = await control('citizen_case', { token: citizen.token, id: citizen.id });
  equal(returned.state, 'returned', 'the citizen sees the case returned');
  check(returned.return_reasons[0].reason.endsWith('；背景须为白色'), 'the reason is the pick plus the text');
  log('return loop API requests:', page.requests.filter((r) => !r.startsWith('GET /v1/objects/')).join(', '));

  // --- The citizen fixes it; the reviewer approves.
  await control('fix_and_resubmit', { token: citizen.token, id: citizen.id });
  await page.getByRole('link', { name: '← 返回队列' }).click();
  await page.getByRole('heading', { name: '预审队列' }).waitFor();
  await page.locator('table.queue tbody tr').first().waitFor();
  const before = page.requests.length;
  await page.keyboard.press('n');
  await page.waitForURL(`**/console/#/review/${citizen.id}`);
  await page.getByLabel('预审通过').check();
  await page.keyboard.press('Control+Enter');
  // This item needs no originals posted: past pre-review it goes straight to the department.
  await page.locator('.tag', { hasText: '部门审批中' }).waitFor();
  const approveLoop = page.requests.slice(before);
  log(`approve loop: ${approveLoop.length} requests: ${approveLoop.join(', ')}`);
  // Images are not API calls; item names and common reasons were loaded with the first case.
  equal(
    approveLoop.filter((r) => !r.startsWith('GET /v1/objects/')),
    [
      'POST /v1/review/claim-next',
      `GET /v1/review/applications/${citizen.id}`,
      `POST /v1/review/applications/${citizen.id}/decision`,
    ],
    'the approve loop costs claim, read and decide',
  );
  equal((await control('citizen_case', { token: citizen.token, id: citizen.id })).state, 'at_department', 'approved');
  page.clean();

  // --- A reviewer of another department never sees the case.
  const other = await open(browser);
  await login(other.page, 'rev2');
  await other.page.getByRole('heading', { name: '预审队列' }).waitFor();
  await other.page.getByText('没有符合条件的案件').waitFor();
  await other.page.goto(`${BASE}/console/#/review/${citizen.id}`);
  await other.page.getByRole('alert').waitFor();
  check(!(await other.page.getByText('张').count()), 'nothing of the case is shown');
  other.page.clean();
  await other.context.close();

  // --- A session that ends mid-decision keeps the draft.
  const second = await control('submitted_case', { name: 'li', seed: 41 });
  const { page: p2 } = await open(browser);
  await login(p2, 'rev1b');
  await p2.getByRole('heading', { name: '预审队列' }).waitFor();
  await p2.locator('table.queue tbody tr a').first().waitFor();
  await p2.keyboard.press('n');
  await p2.waitForURL(`**/console/#/review/${second.id}`);
  await p2.getByLabel('不予受理').check();
  await p2.getByLabel('不予受理的原因').fill('申请人不符合补领条件');
  // The admin resets the reviewer's password: their session ends at once.
  const newPassword = 'a brand new long password';
  const reset = await callAs(adminToken, 'POST', `/v1/admin/staff/${rev1.id}/password`, { password: newPassword });
  equal(reset.status, 204, 'the password reset');
  await p2.keyboard.press('Control+Enter');
  const dialog = p2.getByRole('dialog', { name: '登录已失效，请重新登录' });
  await dialog.waitFor();
  await accessible(p2, 'session ended dialog');
  await shot(p2, 'session-ended');
  equal(await p2.getByLabel('不予受理的原因').inputValue(), '申请人不符合补领条件', 'the draft is still on screen');
  await dialog.getByLabel('密码').fill(newPassword);
  await dialog.getByRole('button', { name: '登录' }).click();
  await p2.locator('.tag', { hasText: '不予受理' }).waitFor();
  equal((await control('citizen_case', { token: second.token, id: second.id })).state, 'rejected', 'the decision went in after logging in again');

  // --- A claim lost while deciding: nothing is written, the draft stays, claiming again works.
  const third = await control('submitted_case', { name: 'wang', seed: 71 });
  await p2.goto(BASE + '/console/#/review');
  await p2.getByRole('heading', { name: '预审队列' }).waitFor();
  await p2.locator('table.queue tbody tr a').first().waitFor();
  await p2.keyboard.press('n');
  await p2.waitForURL(`**/console/#/review/${third.id}`);
  await p2.getByLabel('预审通过').check();
  await control('advance_clock', { secs: 3 * 3600 });
  await p2.keyboard.press('Control+Enter');
  await p2.getByRole('alert').filter({ hasText: '领取已过期' }).waitFor();
  equal((await control('citizen_case', { token: third.token, id: third.id })).state, 'submitted', 'no decision by a non-holder');
  check(await p2.getByLabel('预审通过').isChecked(), 'the draft is kept');
  await p2.getByRole('button', { name: '重新领取' }).click();
  // Claimed again: the refusal goes away, and the countdown is the service's, not the PC's.
  await p2.getByRole('alert').filter({ hasText: '领取已过期' }).waitFor({ state: 'detached' });
  const timer = await p2.getByRole('timer').textContent();
  check(/领取剩余 (29|30):\d\d/.test(timer), `a fresh 30-minute claim: ${timer}`);
  await p2.keyboard.press('Control+Enter');
  await p2.locator('.tag', { hasText: '部门审批中' }).waitFor();
  p2.clean();
});
