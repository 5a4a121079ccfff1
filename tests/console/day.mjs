// The whole back-office day in the console, one case from the admin's first login to the audit
// log: the admin creates a reviewer, a reception clerk and an approver; a citizen files an item
// whose originals the courier collects; the reviewer returns it (keyboard, zoom, rotate), the
// citizen fixes it, the reviewer approves; the courier delivers the originals; reception scans
// the waybill, receives and closes the batch; the approver attaches the issued card and
// approves; the admin finds every step in the audit log. axe checks every screen.

import { BASE, run, open, login, control, accessible, shot, check, equal, log } from './lib.mjs';

const DEPT_NAME = '区民政局';
const PASSWORD = 'the day starts with coffee';

/** Fills the admin's "new member" form and waits until the list shows the member. */
async function createMember(page, username, displayName, role) {
  await page.getByLabel('用户名', { exact: true }).fill(username);
  await page.getByLabel('姓名', { exact: true }).fill(displayName);
  await page.getByLabel('初始密码').fill(PASSWORD);
  await page.locator(`#new-role-${role}`).check();
  await page.getByLabel(DEPT_NAME).check();
  await page.getByRole('button', { name: '创建' }).click();
  await page.getByText(`已创建 ${displayName}（${username}）`).waitFor();
  await page.locator('table.staff tbody tr', { hasText: username }).waitFor();
}

const step = (() => {
  let last = Date.now();
  const first = last;
  return (what) => {
    const now = Date.now();
    log(`${what}: ${now - last} ms (total ${now - first} ms)`);
    last = now;
  };
})();

run(async (browser) => {
  await control('seed_staff', { username: 'boss', roles: 'admin', departments: '' });
  await control('dead_job');

  // --- The admin creates the day's staff through the staff screen.
  const admin = await open(browser);
  await login(admin.page, 'boss');
  await admin.page.getByRole('heading', { name: '人员管理' }).waitFor();
  await admin.page.locator('table.staff tbody tr', { hasText: 'boss' }).waitFor();
  await createMember(admin.page, 'day.rev', '预审员小王', 'reviewer');
  await createMember(admin.page, 'day.desk', '收件员小李', 'reception');
  await createMember(admin.page, 'day.appr', '审批员老张', 'approver');
  await accessible(admin.page, 'admin staff');
  await shot(admin.page, 'admin-staff');
  // The member panel: its form is axe-checked too, and a change of roles is saved.
  await admin.page.getByRole('button', { name: '管理 day.appr' }).click();
  await admin.page.getByRole('heading', { name: '管理：审批员老张（day.appr）' }).waitFor();
  await accessible(admin.page, 'admin member');
  await shot(admin.page, 'admin-member');
  step('admin created three members');

  // --- A citizen files an item whose paper originals the courier collects.
  const citizen = await control('submitted_originals_case', { name: 'elder', seed: 21 });

  // --- The reviewer: next case on N, zoom and rotate, return the ID photo with a reason.
  const rev = await open(browser);
  await login(rev.page, 'day.rev', PASSWORD);
  await rev.page.getByRole('heading', { name: '预审队列' }).waitFor();
  await rev.page.locator('table.queue tbody tr').first().waitFor();
  rev.page.requests.length = 0;
  await rev.page.keyboard.press('n');
  await rev.page.waitForURL(`**/console/#/review/${citizen.id}`);
  const image = rev.page.locator('#page-image');
  await image.waitFor();
  await rev.page.keyboard.press('+');
  await rev.page.keyboard.press('r');
  equal(await image.getAttribute('data-rotate'), '90', 'R rotates the page');
  check(Number(await image.getAttribute('data-zoom')) > 1, '+ zooms in');
  await rev.page.getByLabel('退回补正').check();
  await rev.page.locator('#ret-id-photo').check();
  await rev.page.locator('select[id$="-pick"]').first().selectOption({ index: 1 });
  await rev.page.keyboard.press('Control+Enter');
  await rev.page.getByText('决定已提交').waitFor();
  const returnLoop = rev.page.requests.filter((r) => !/^GET \/v1\/(objects|stats|matters)/.test(r));
  log(`return loop: ${returnLoop.length} requests: ${returnLoop.join(', ')}`);
  equal(
    returnLoop,
    [
      'POST /v1/review/claim-next',
      `GET /v1/review/applications/${citizen.id}`,
      `POST /v1/review/applications/${citizen.id}/decision`,
    ],
    'the return loop costs claim, read and decide',
  );
  equal((await control('citizen_case', citizen)).state, 'returned', 'returned to the citizen');

  await control('fix_and_resubmit', citizen);
  await rev.page.getByRole('link', { name: '← 返回队列' }).click();
  await rev.page.getByRole('heading', { name: '预审队列' }).waitFor();
  await rev.page.locator('table.queue tbody tr').first().waitFor();
  const before = rev.page.requests.length;
  await rev.page.keyboard.press('n');
  await rev.page.waitForURL(`**/console/#/review/${citizen.id}`);
  await rev.page.getByLabel('预审通过').check();
  await rev.page.keyboard.press('Control+Enter');
  await rev.page.locator('.tag', { hasText: '预审通过' }).waitFor();
  const approveLoop = rev.page.requests.slice(before).filter((r) => !/^GET \/v1\/(objects|stats|matters)/.test(r));
  log(`approve loop: ${approveLoop.length} requests: ${approveLoop.join(', ')}`);
  equal(
    approveLoop,
    [
      'POST /v1/review/claim-next',
      `GET /v1/review/applications/${citizen.id}`,
      `POST /v1/review/applications/${citizen.id}/decision`,
    ],
    'the approve loop costs claim, read and decide',
  );
  rev.page.clean();
  step('reviewer returned and approved');

  // --- The courier brings the originals.
  const shipments = await control('deliver_originals', citizen);
  const leg = shipments.items.find((s) => s.leg === 'materials');
  const waybill = leg.waybill_no;
  check(/^SF/.test(waybill), `a waybill number: ${waybill}`);
  step('originals delivered');

  // --- Reception: the parcel on the list, the scan, the check, the batch.
  const desk = await open(browser);
  await login(desk.page, 'day.desk', PASSWORD);
  await desk.page.getByRole('heading', { name: '到件待收' }).waitFor();
  await desk.page.locator('table.arrived tbody tr', { hasText: waybill }).waitFor();
  await accessible(desk.page, 'reception list');
  await shot(desk.page, 'reception-list');
  // A scanner types into the focused box and presses Enter.
  await desk.page.keyboard.type(waybill, { delay: 5 });
  await desk.page.keyboard.press('Enter');
  await desk.page.waitForURL(`**/console/#/reception/${citizen.id}`);
  await desk.page.getByRole('heading', { name: '核对原件' }).waitFor();
  await desk.page.locator('#page-image').waitFor();
  const originals = await desk.page.locator('.checklist input[type=checkbox]').count();
  equal(originals, 2, 'the checklist holds the two originals the item requires');
  await accessible(desk.page, 'reception case');
  await shot(desk.page, 'reception-case');
  await desk.page.setViewportSize({ width: 1920, height: 1080 });
  await shot(desk.page, 'reception-case-1920');
  await desk.page.setViewportSize({ width: 1366, height: 768 });
  for (const box of await desk.page.locator('.checklist input[type=checkbox]').all()) await box.check();
  await desk.page.getByRole('button', { name: '原件相符' }).click();
  await desk.page.getByText('已收件：').waitFor();
  equal((await control('citizen_case', citizen)).state, 'received', 'received');

  await desk.page.getByRole('link', { name: '今日批次' }).click();
  await desk.page.getByRole('heading', { name: '今日批次' }).waitFor();
  await desk.page.getByRole('button', { name: '立即封批' }).click();
  await desk.page.getByText('已封批 1 批，共 1 件').waitFor();
  const batchRow = desk.page.locator('table.batches tbody tr', { hasText: DEPT_NAME });
  await batchRow.waitFor();
  await accessible(desk.page, 'reception batches');
  await shot(desk.page, 'reception-batches');
  for (const [format, magic] of [['PDF', '%PDF'], ['CSV', '\ufeff']]) {
    const [download] = await Promise.all([
      desk.page.waitForEvent('download'),
      batchRow.getByRole('button', { name: `下载 ${format}` }).click(),
    ]);
    check(download.suggestedFilename().endsWith('.' + format.toLowerCase()), `a .${format} file: ${download.suggestedFilename()}`);
    const { readFileSync } = await import('node:fs');
    const bytes = readFileSync(await download.path());
    check(bytes.toString('utf8').startsWith(magic), `the ${format} manifest starts with its magic`);
    log(`manifest ${format}: ${bytes.length} bytes`);
  }
  equal((await control('citizen_case', citizen)).state, 'at_department', 'the batch took it to the department');
  desk.page.clean();
  step('reception received and closed the batch');

  // --- The approver: the queue, the case, the result file, the approval.
  const appr = await open(browser);
  await login(appr.page, 'day.appr', PASSWORD);
  await appr.page.getByRole('heading', { name: '部门审批' }).waitFor();
  await appr.page.locator('table.dept-queue tbody tr').first().waitFor();
  await accessible(appr.page, 'department queue');
  await shot(appr.page, 'department-queue');
  await appr.page.getByRole('link', { name: '老年人优待证办理' }).click();
  await appr.page.waitForURL(`**/console/#/department/${citizen.id}`);
  await appr.page.locator('#page-image').waitFor();
  const card = await control('jpeg', { seed: 99 });
  await appr.page.getByLabel('上传结果文件（证照扫描件或 PDF）').setInputFiles({
    name: 'card.jpg',
    mimeType: 'image/jpeg',
    buffer: Buffer.from(card.base64, 'base64'),
  });
  await appr.page.locator('.result-file', { hasText: 'card.jpg' }).waitFor();
  // A wrong file attached by mistake is removed again.
  const wrong = await control('jpeg', { seed: 98 });
  await appr.page.getByLabel('上传结果文件（证照扫描件或 PDF）').setInputFiles({
    name: 'wrong.jpg',
    mimeType: 'image/jpeg',
    buffer: Buffer.from(wrong.base64, 'base64'),
  });
  await appr.page.getByRole('button', { name: '删除 wrong.jpg' }).click();
  await appr.page.locator('.result-file', { hasText: 'wrong.jpg' }).waitFor({ state: 'detached' });
  equal(await appr.page.locator('.result-file').count(), 1, 'one result file left');
  // A refusal needs its reason: nothing is sent without one.
  await appr.page.getByLabel('不予批准').check();
  await appr.page.getByRole('button', { name: '提交审批' }).click();
  await appr.page.getByRole('alert').filter({ hasText: '不予批准须写明原因' }).waitFor();
  await appr.page.getByLabel('准予批准').check();
  await appr.page.getByLabel('审批意见（可选，申请人可见）').fill('准予办理，证件已制好');
  await accessible(appr.page, 'department case');
  await shot(appr.page, 'department-case');
  await appr.page.getByRole('button', { name: '提交审批' }).click();
  await appr.page.getByText('已准予批准').waitFor();
  const decided = (await control('citizen_case', citizen)).state;
  check(['result_in_delivery', 'completed'].includes(decided), `approved and posted: ${decided}`);
  appr.page.clean();
  step('approver attached the card and approved');

  // --- The admin: a member's roles, disable and enable, a new password, a lock lifted.
  const a = admin.page;
  await a.getByRole('button', { name: '管理 day.rev' }).click();
  await a.getByRole('heading', { name: '管理：预审员小王（day.rev）' }).waitFor();
  await a.locator('#edit-role-reception').check();
  await a.getByRole('button', { name: '保存角色与部门' }).click();
  await a.getByText('角色与部门已保存').waitFor();
  await a.locator('table.staff tbody tr', { hasText: 'day.rev' }).filter({ hasText: '预审员、收件员' }).waitFor();
  await a.getByRole('button', { name: '停用' }).click();
  await a.locator('table.staff tbody tr', { hasText: 'day.rev' }).locator('.tag', { hasText: '已停用' }).waitFor();
  await a.getByRole('button', { name: '启用' }).click();
  await a.locator('table.staff tbody tr', { hasText: 'day.rev' }).locator('.tag', { hasText: '启用' }).waitFor();
  await a.getByLabel('新密码').fill('short');
  await a.getByRole('button', { name: '重置密码' }).click();
  await a.getByRole('alert').filter({ hasText: 'password' }).waitFor();
  await a.getByLabel('新密码').fill('another long password');
  await a.getByRole('button', { name: '重置密码' }).click();
  await a.getByText('密码已重置').waitFor();
  await a.getByRole('button', { name: '解除锁定' }).click();
  await a.getByText('已解除登录锁定').waitFor();

  // --- Dead jobs, shipment problems, and every step of the case in the audit log.
  await a.getByRole('link', { name: '失败任务' }).click();
  await a.getByRole('heading', { name: '后台任务' }).waitFor();
  await a.locator('table.jobs tbody tr', { hasText: 'notify_wechat' }).waitFor();
  await accessible(a, 'admin jobs');
  await shot(a, 'admin-jobs');
  await a.getByRole('button', { name: '重试 notify_wechat' }).click();
  await a.getByText('任务 notify_wechat 已重新排队').waitFor();

  await a.getByRole('link', { name: '异常快递' }).click();
  await a.getByRole('heading', { name: '异常快递' }).waitFor();
  await a.locator('table.shipments tbody tr').first().waitFor();
  await accessible(a, 'admin shipments');
  await shot(a, 'admin-shipments');

  await a.getByRole('link', { name: '审计日志' }).click();
  await a.getByRole('heading', { name: '审计日志' }).waitFor();
  await a.locator('#audit-application').fill(citizen.id);
  await Promise.all([
    a.waitForResponse((r) => r.url().includes('/v1/admin/audit?') && r.url().includes(`application=${citizen.id}`)),
    a.getByRole('button', { name: '查询' }).click(),
  ]);
  await a.locator('table.audit tbody tr[data-action="department.decide"]').waitFor();
  const actions = await a.locator('table.audit tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.action));
  for (const wanted of [
    'review.claim',
    'review.view',
    'review.decision',
    'reception.view',
    'reception.receive',
    'department.view',
    'department.result_upload',
    'department.decide',
  ]) {
    check(actions.includes(wanted), `the audit log has ${wanted}: ${actions.join(', ')}`);
  }
  equal(actions.filter((x) => x === 'review.decision').length, 2, `both review decisions, once each: ${actions.join(', ')}`);
  await accessible(a, 'admin audit');
  await shot(a, 'admin-audit');
  await a.setViewportSize({ width: 1920, height: 1080 });
  await shot(a, 'admin-audit-1920');
  await a.setViewportSize({ width: 1366, height: 768 });
  // The batch is closed for a department, not one case: it is found by its action.
  await a.locator('#audit-application').fill('');
  await a.locator('#audit-action').fill('reception.close_batches');
  await a.getByRole('button', { name: '查询' }).click();
  await a.locator('table.audit tbody tr[data-action="reception.close_batches"]', { hasText: '1 case' }).waitFor();
  await a.locator('#audit-action').fill('staff.create');
  await a.getByRole('button', { name: '查询' }).click();
  await a.locator('table.audit tbody tr[data-action="staff.create"]').nth(2).waitFor();
  a.clean();
  step('admin read the audit log');
});
