// The reviewer's case view of a case that reused a document of the citizen's wallet: the ID
// card's material says who verified it, when and in which case; the claim holder invalidates it
// with a reason, which the citizen then reads in their wallet, and the mark says so.

import { BASE, run, open, login, control, accessible, check, equal, callAs, log, shot } from './lib.mjs';

const DEPT = 'civil-affairs';

run(async (browser) => {
  await control('seed_staff', { username: 'civil1', roles: 'reviewer', departments: DEPT });
  const kase = await control('reused_case', { name: 'qian', seed: 40 });

  const { page } = await open(browser);
  await login(page, 'civil1');
  await page.goto(`${BASE}/console/#/review/${kase.id}`);
  const reused = page.locator(`.reused[data-document="${kase.document_id}"]`);
  await reused.waitFor();
  const text = await reused.textContent();
  check(text.includes('证照夹复用'), 'the material is marked as reused');
  check(text.includes('hr.reviewer40'), 'it names the reviewer who verified it');
  check(text.includes('有效'), 'it says the document stands');
  equal(await reused.getByRole('button', { name: '作废此证照' }).count(), 0, 'only the claim holder may invalidate');
  await accessible(page, 'review case with a reused document');

  await page.getByRole('button', { name: '领取本件' }).first().click();
  await reused.getByRole('button', { name: '作废此证照' }).click();
  await reused.getByLabel('作废原因（申请人可见）').fill('身份证复印件与原件不符');
  await reused.getByRole('button', { name: '确认作废' }).click();
  await page.getByText('证照已作废').waitFor();
  await reused.filter({ hasText: '已作废' }).waitFor();
  check((await reused.textContent()).includes('身份证复印件与原件不符'), 'the reason is shown');
  await shot(page, 'review-reused');
  equal(await reused.getByRole('button', { name: '作废此证照' }).count(), 0, 'an invalid document offers no second invalidation');

  // The citizen's wallet says the same.
  const res = await callAs(kase.token, 'GET', `/v1/documents/${kase.document_id}`);
  equal(res.status, 200, 'the citizen reads the document');
  const doc = await res.json();
  equal(doc.state, 'invalidated', 'the document left the wallet');
  equal(doc.end_reason, '身份证复印件与原件不符', 'with the reviewer\'s reason');
  log('reused document invalidated from the console');
});
