// The admin's screens, one tab each: staff (create, roles and departments, disable and enable,
// a new password, lifting a login lock), village service points and their agents, dead jobs to
// retry, courier legs that need a person, and the audit log with its filters and cursor paging.
// Every change is audited server-side.

import { html, useState, useEffect, useRef, useLoad, ErrorBanner, Notice, fmtTime, ROLE_LABELS, partnerLabel } from '../ui.js';
import { api, get, post, me } from '../api.js';
import { useMatters } from './review.js';

const TABS = [
  ['staff', '人员'],
  ['points', '代办点'],
  ['jobs', '失败任务'],
  ['shipments', '异常快递'],
  ['audit', '审计日志'],
];

export default function Admin({ rest }) {
  const tab = TABS.some(([key]) => key === rest[0]) ? rest[0] : 'staff';
  return html`<nav class="tabs" aria-label="管理">
      ${TABS.map(
        ([key, label]) => html`<a href=${'#/admin/' + key} aria-current=${key === tab ? 'page' : undefined}>${label}</a>`,
      )}
    </nav>
    ${tab === 'staff' ? html`<${Staff} />` : null}
    ${tab === 'points' ? html`<${ServicePoints} />` : null}
    ${tab === 'jobs' ? html`<${Jobs} />` : null}
    ${tab === 'shipments' ? html`<${Shipments} />` : null}
    ${tab === 'audit' ? html`<${Audit} key=${rest[1] || ''} application=${rest[1] || ''} />` : null}`;
}

/** The departments of the catalogue, `{ code, name }`, in catalogue order. */
function useDepartments() {
  const matters = useMatters();
  const seen = new Map();
  for (const m of matters) if (m.department && !seen.has(m.department.code)) seen.set(m.department.code, m.department);
  return [...seen.values()];
}

/** Every page of a cursor-paged list: `{ items, more, loadMore, ... }`. */
function usePaged(path, query, deps) {
  const [items, setItems] = useState([]);
  const [cursor, setCursor] = useState(null);
  const [error, setError] = useState(null);
  const [loading, setLoading] = useState(true);
  // Only the latest request's answer counts: an earlier filter's late answer is dropped.
  const seq = useRef(0);
  const fetchPage = async (after, replace) => {
    const mine = ++seq.current;
    setLoading(true);
    setError(null);
    try {
      const page = await get(path, { ...query, cursor: after || '' });
      if (mine !== seq.current) return;
      setItems((old) => (replace ? page.items : [...old, ...page.items]));
      setCursor(page.next_cursor || null);
    } catch (err) {
      if (mine !== seq.current) return;
      setError(err);
      if (replace) setItems([]);
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  };
  useEffect(() => {
    fetchPage(null, true);
  }, deps);
  return {
    items,
    setItems,
    error,
    loading,
    more: !!cursor,
    loadMore: () => fetchPage(cursor, false),
    reload: () => fetchPage(null, true),
  };
}

function Pager({ list, what }) {
  if (!list.more) return null;
  return html`<div class="pager">
    <button type="button" onClick=${list.loadMore} disabled=${list.loading}>加载更多${what}</button>
  </div>`;
}

// --- Staff

const ROLES = ['reviewer', 'reception', 'approver', 'admin', 'agent'];

/** The village service points, `{ id, code, name, ... }`. */
function usePoints() {
  const list = usePaged('/v1/admin/service-points', { limit: 200 }, []);
  return list.items;
}

/**
 * Departments for staff; for an agent (who holds no other role and no departments) the
 * service point they file at instead.
 */
function Access({ idPrefix, roles, departments, chosen, onDepartments, points, point, onPoint }) {
  if (!roles.includes('agent')) {
    return html`<${DepartmentChecks} idPrefix=${idPrefix} departments=${departments} chosen=${chosen}
      onChange=${onDepartments} />`;
  }
  return html`<label for=${idPrefix + '-point'}>代办点</label>
    <select id=${idPrefix + '-point'} required value=${point || ''} onChange=${(e) => onPoint(e.target.value)}>
      <option value="">请选择代办点</option>
      ${points.map((p) => html`<option value=${p.id}>${p.name}</option>`)}
    </select>
    <small class="hint">代办员只担任这一个角色，在所选代办点为村民代办。</small>`;
}

/** The access part of a staff request: an agent's point, or the departments. */
function accessOf(roles, departments, point) {
  return roles.includes('agent')
    ? { roles, departments: [], service_point_id: point || undefined }
    : { roles, departments };
}

function RoleChecks({ idPrefix, roles, onChange }) {
  return html`<fieldset class="checks">
    <legend>角色</legend>
    ${ROLES.map(
      (r) => html`<label class="check">
        <input type="checkbox" id=${idPrefix + '-role-' + r} checked=${roles.includes(r)}
          onChange=${(e) => onChange(e.target.checked ? [...roles, r] : roles.filter((x) => x !== r))} />
        ${ROLE_LABELS[r]}
      </label>`,
    )}
  </fieldset>`;
}

function DepartmentChecks({ idPrefix, departments, chosen, onChange }) {
  // A member may hold a department the current catalogue no longer names: keep it visible.
  const all = [...departments];
  for (const code of chosen) if (!all.some((d) => d.code === code)) all.push({ code, name: code });
  return html`<fieldset class="checks">
    <legend>部门</legend>
    ${all.map(
      (d) => html`<label class="check">
        <input type="checkbox" id=${idPrefix + '-dept-' + d.code} checked=${chosen.includes(d.code)}
          onChange=${(e) => onChange(e.target.checked ? [...chosen, d.code] : chosen.filter((x) => x !== d.code))} />
        ${d.name}
      </label>`,
    )}
  </fieldset>`;
}

function Staff() {
  const departments = useDepartments();
  const points = usePoints();
  const list = usePaged('/v1/admin/staff', { limit: 200 }, []);
  const [selected, setSelected] = useState(null);
  const deptName = (code) => (departments.find((d) => d.code === code) || {}).name || code;
  const member = selected && list.items.find((m) => m.id === selected);
  const replace = (changed) => list.setItems((items) => items.map((m) => (m.id === changed.id ? changed : m)));

  return html`<section aria-labelledby="staff-title">
    <div class="toolbar">
      <h1 id="staff-title">人员管理</h1>
      <span class="grow"></span>
      ${member ? html`<button type="button" onClick=${() => setSelected(null)}>新建人员</button>` : null}
    </div>
    <${ErrorBanner} error=${list.error} />
    <div class="admin-grid">
      <div>
        <table class="grid staff">
          <caption class="sr-only">工作人员</caption>
          <thead><tr>
            <th scope="col">用户名</th><th scope="col">姓名</th><th scope="col">角色</th>
            <th scope="col">部门</th><th scope="col">状态</th><th scope="col">最近登录</th><th scope="col">操作</th>
          </tr></thead>
          <tbody>
            ${list.items.map(
              (m) => html`<tr class=${m.id === selected ? 'selected' : ''}>
                <td class="mono">${m.username}</td>
                <td>${m.display_name}</td>
                <td>${m.roles.map((r) => ROLE_LABELS[r] || r).join('、')}</td>
                <td>${m.service_point_id
                  ? (points.find((p) => p.id === m.service_point_id) || {}).name || '代办点'
                  : m.departments.map(deptName).join('、') || html`<span class="muted">—</span>`}</td>
                <td>${m.disabled ? html`<span class="tag off">已停用</span>` : html`<span class="tag ok">启用</span>`}</td>
                <td>${fmtTime(m.last_login_at)}</td>
                <td><button type="button" class="link" onClick=${() => setSelected(m.id)}
                  aria-label=${`管理 ${m.username}`}>管理</button></td>
              </tr>`,
            )}
          </tbody>
        </table>
        <${Pager} list=${list} what="人员" />
      </div>
      ${member
        ? html`<${Member} key=${member.id} member=${member} departments=${departments} points=${points}
            onChanged=${replace} />`
        : html`<${NewMember} departments=${departments} points=${points}
            onCreated=${(m) => list.setItems((items) => [...items, m])} />`}
    </div>
  </section>`;
}

const emptyMember = () => ({
  username: '', display_name: '', password: '', email: '', roles: [], departments: [], point: '',
});

function NewMember({ departments, points, onCreated }) {
  const [form, setForm] = useState(emptyMember);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (patch) => setForm((f) => ({ ...f, ...patch }));

  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    setNotice(null);
    if (!form.roles.length) return setError({ message: '请至少选择一个角色。' });
    setBusy(true);
    try {
      const created = await post('/v1/admin/staff', {
        username: form.username.trim(),
        display_name: form.display_name.trim(),
        password: form.password,
        ...accessOf(form.roles, form.departments, form.point),
        email: form.email.trim() || undefined,
      });
      onCreated(created);
      setForm(emptyMember());
      setNotice(`已创建 ${created.display_name}（${created.username}）。`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return html`<section class="panel" aria-labelledby="new-staff-title">
    <h2 id="new-staff-title">新建人员</h2>
    <form onSubmit=${submit}>
      <label for="new-username">用户名</label>
      <input id="new-username" type="text" autocomplete="off" required value=${form.username}
        onInput=${(e) => set({ username: e.target.value })} aria-describedby="new-username-hint" />
      <small class="hint" id="new-username-hint">3–64 位字母、数字或 . _ -</small>
      <label for="new-display">姓名</label>
      <input id="new-display" type="text" autocomplete="off" required maxlength="100" value=${form.display_name}
        onInput=${(e) => set({ display_name: e.target.value })} />
      <label for="new-password">初始密码</label>
      <input id="new-password" type="password" autocomplete="new-password" required value=${form.password}
        onInput=${(e) => set({ password: e.target.value })} aria-describedby="new-password-hint" />
      <small class="hint" id="new-password-hint">至少 12 位。</small>
      <label for="new-email">邮箱（可选，接收告警）</label>
      <input id="new-email" type="text" autocomplete="off" value=${form.email} onInput=${(e) => set({ email: e.target.value })} />
      <${RoleChecks} idPrefix="new" roles=${form.roles} onChange=${(roles) => set({ roles })} />
      <${Access} idPrefix="new" roles=${form.roles} departments=${departments} chosen=${form.departments}
        onDepartments=${(d) => set({ departments: d })} points=${points} point=${form.point}
        onPoint=${(point) => set({ point })} />
      <${ErrorBanner} error=${error} />
      ${notice ? html`<${Notice} kind="ok">${notice}<//>` : null}
      <button type="submit" class="primary" disabled=${busy}>创建</button>
    </form>
  </section>`;
}

function Member({ member, departments, points, onChanged }) {
  const [roles, setRoles] = useState(member.roles);
  const [chosen, setChosen] = useState(member.departments);
  const [point, setPoint] = useState(member.service_point_id || '');
  const [password, setPassword] = useState('');
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [busy, setBusy] = useState(false);
  const self = me() && me().username === member.username;

  const act = async (fn, done) => {
    setError(null);
    setNotice(null);
    setBusy(true);
    try {
      const answer = await fn();
      if (answer && answer.id) onChanged(answer);
      setNotice(done);
      return true;
    } catch (err) {
      setError(err);
      return false;
    } finally {
      setBusy(false);
    }
  };
  const base = `/v1/admin/staff/${member.id}`;
  const saveRoles = (e) => {
    e.preventDefault();
    if (!roles.length) return setError({ message: '请至少选择一个角色。' });
    act(() => api('PUT', base + '/roles', { json: accessOf(roles, chosen, point) }), '角色与部门已保存。');
  };
  const reset = (e) => {
    e.preventDefault();
    act(() => post(base + '/password', { password }), '密码已重置，该人员的登录会话已全部结束。').then((ok) => ok && setPassword(''));
  };

  return html`<section class="panel" aria-labelledby="member-title">
    <h2 id="member-title">管理：${member.display_name}（${member.username}）</h2>
    <${ErrorBanner} error=${error} />
    ${notice ? html`<${Notice} kind="ok">${notice}<//>` : null}
    <form onSubmit=${saveRoles} aria-label="角色与部门">
      <${RoleChecks} idPrefix="edit" roles=${roles} onChange=${setRoles} />
      <${Access} idPrefix="edit" roles=${roles} departments=${departments} chosen=${chosen}
        onDepartments=${setChosen} points=${points} point=${point} onPoint=${setPoint} />
      <button type="submit" disabled=${busy}>保存角色与部门</button>
    </form>
    <h3>账号</h3>
    <div class="row-actions">
      ${member.disabled
        ? html`<button type="button" disabled=${busy} onClick=${() => act(() => post(base + '/enable'), '已启用。')}>启用</button>`
        : html`<button type="button" class="danger" disabled=${busy || self}
            onClick=${() => act(() => post(base + '/disable'), '已停用，该人员的登录会话已全部结束。')}>停用</button>`}
      <button type="button" disabled=${busy}
        onClick=${() => act(() => post(base + '/unlock'), '已解除登录锁定。')}>解除锁定</button>
    </div>
    <form onSubmit=${reset} aria-label="重置密码">
      <label for="reset-password">新密码</label>
      <input id="reset-password" type="password" autocomplete="new-password" required value=${password}
        onInput=${(e) => setPassword(e.target.value)} />
      <button type="submit" disabled=${busy}>重置密码</button>
    </form>
  </section>`;
}

// --- Service points

const emptyPoint = () => ({
  code: '', name: '', province: '', city: '', district: '', detail: '', contact_name: '', phone: '',
  departments: [],
});

/** Village service points (代办点): where agents file for residents and couriers call. */
function ServicePoints() {
  const departments = useDepartments();
  const list = usePaged('/v1/admin/service-points', { limit: 200 }, []);
  const deptName = (code) => (departments.find((d) => d.code === code) || {}).name || code;
  return html`<section aria-labelledby="points-title">
    <div class="toolbar"><h1 id="points-title">代办点</h1></div>
    <${ErrorBanner} error=${list.error} />
    <div class="admin-grid">
      <div>
        <table class="grid">
          <caption class="sr-only">村级代办点</caption>
          <thead><tr><th scope="col">代码</th><th scope="col">名称</th><th scope="col">地址</th>
            <th scope="col">联系人</th><th scope="col">可代办部门</th></tr></thead>
          <tbody>
            ${list.items.map(
              (p) => html`<tr>
                <td class="mono">${p.code}</td>
                <td>${p.name}</td>
                <td>${p.address.province}${p.address.city}${p.address.district}${p.address.detail}</td>
                <td>${p.address.contact_name} ${p.address.phone}</td>
                <td>${p.departments.map(deptName).join('、')}</td>
              </tr>`,
            )}
          </tbody>
        </table>
        ${list.items.length || list.loading ? null : html`<p class="muted">还没有代办点。</p>`}
        <${Pager} list=${list} what="代办点" />
      </div>
      <${NewPoint} departments=${departments} onCreated=${(p) => list.setItems((items) => [...items, p])} />
    </div>
  </section>`;
}

function NewPoint({ departments, onCreated }) {
  const [form, setForm] = useState(emptyPoint);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (patch) => setForm((f) => ({ ...f, ...patch }));
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    setNotice(null);
    setBusy(true);
    try {
      const { code, name, departments: chosen, ...address } = form;
      const created = await post('/v1/admin/service-points', {
        code: code.trim(),
        name: name.trim(),
        address,
        departments: chosen,
      });
      onCreated(created);
      setForm(emptyPoint());
      setNotice(`已登记 ${created.name}。`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const field = (key, label, hint) => html`<label for=${'point-' + key}>${label}</label>
    <input id=${'point-' + key} type="text" autocomplete="off" required value=${form[key]}
      onInput=${(e) => set({ [key]: e.target.value })} />
    ${hint ? html`<small class="hint">${hint}</small>` : null}`;
  return html`<section class="panel" aria-labelledby="new-point-title">
    <h2 id="new-point-title">登记代办点</h2>
    <form onSubmit=${submit}>
      ${field('code', '代码', '3–64 位小写字母、数字或 . _ -，登记后不变')}
      ${field('name', '名称')}
      ${field('province', '省')}
      ${field('city', '市')}
      ${field('district', '区县')}
      ${field('detail', '详细地址（快递上门取件、送达结果）')}
      ${field('contact_name', '联系人')}
      ${field('phone', '联系电话')}
      <${DepartmentChecks} idPrefix="point" departments=${departments} chosen=${form.departments}
        onChange=${(d) => set({ departments: d })} />
      <${ErrorBanner} error=${error} />
      ${notice ? html`<${Notice} kind="ok">${notice}<//>` : null}
      <button type="submit" class="primary" disabled=${busy}>登记</button>
    </form>
  </section>`;
}

// --- Jobs

const JOB_STATES = { dead: '已放弃', queued: '排队中', running: '运行中', done: '已完成' };

function Jobs() {
  const [state, setState] = useState('dead');
  const list = usePaged('/v1/admin/jobs', { state, limit: 50 }, [state]);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);

  const retry = async (job) => {
    setError(null);
    setNotice(null);
    try {
      await post(`/v1/admin/jobs/${job.id}/retry`);
      list.setItems((items) => items.filter((j) => j.id !== job.id));
      setNotice(`任务 ${job.kind} 已重新排队。`);
    } catch (err) {
      setError(err);
    }
  };

  return html`<section aria-labelledby="jobs-title">
    <div class="toolbar">
      <h1 id="jobs-title">后台任务</h1>
      <label class="check">状态
        <select value=${state} onChange=${(e) => setState(e.target.value)}>
          ${Object.entries(JOB_STATES).map(([k, v]) => html`<option value=${k}>${v}</option>`)}
        </select>
      </label>
    </div>
    ${notice ? html`<${Notice} kind="ok">${notice}<//>` : null}
    <${ErrorBanner} error=${error || list.error} />
    <table class="grid jobs">
      <caption class="sr-only">${JOB_STATES[state]}的任务</caption>
      <thead><tr>
        <th scope="col">类型</th><th scope="col">状态</th><th scope="col">尝试</th>
        <th scope="col">最后错误</th><th scope="col">更新时间</th><th scope="col">操作</th>
      </tr></thead>
      <tbody>
        ${list.items.map(
          (j) => html`<tr>
            <td class="mono">${j.kind}</td>
            <td>${JOB_STATES[j.state] || j.state}</td>
            <td>${j.attempts}/${j.max_attempts}</td>
            <td class="detail">${j.last_error || '—'}</td>
            <td>${fmtTime(j.updated_at)}</td>
            <td>${j.state === 'dead'
              ? html`<button type="button" onClick=${() => retry(j)} aria-label=${`重试 ${j.kind}`}>重试</button>`
              : null}</td>
          </tr>`,
        )}
        ${!list.loading && list.items.length === 0
          ? html`<tr><td colspan="6" class="muted">没有${JOB_STATES[state]}的任务。</td></tr>`
          : null}
      </tbody>
    </table>
    <${Pager} list=${list} what="任务" />
  </section>`;
}

// --- Shipments

const PROBLEM_LABELS = {
  order_failed: '下单失败',
  returned: '已退回',
  delivery_failed: '派送失败',
  exception: '运输异常',
  stuck: '长时间无动态',
  drop_overdue: '逾期未投递',
};
const LEG_LABELS = { materials: '原件寄送', result: '结果寄送', return: '原件退回' };

function Shipments() {
  const problems = useLoad(() => get('/v1/admin/shipments/problems'), []);
  const rows = (problems.data && problems.data.items) || [];
  return html`<section aria-labelledby="shipments-title">
    <div class="toolbar">
      <h1 id="shipments-title">异常快递</h1>
      <span class="grow"></span>
      <button type="button" onClick=${problems.reload}>刷新</button>
    </div>
    <${ErrorBanner} error=${problems.error} />
    <table class="grid shipments">
      <caption class="sr-only">需要人工处理的快递，无动态最久的在前</caption>
      <thead><tr>
        <th scope="col">原因</th><th scope="col">运单号</th><th scope="col">环节</th><th scope="col">快递状态</th>
        <th scope="col">最近动态</th><th scope="col">错误</th><th scope="col">案件</th>
      </tr></thead>
      <tbody>
        ${rows.map(
          (s) => html`<tr>
            <td><span class="tag warn">${PROBLEM_LABELS[s.reason] || s.reason}</span></td>
            <td class="mono">${s.waybill_no || '—'}</td>
            <td>${LEG_LABELS[s.leg] || s.leg} · ${partnerLabel(s.partner)}</td>
            <td>${s.status} / ${s.order_status}</td>
            <td>${fmtTime(s.quiet_since)}（${s.quiet_hours} 小时前）</td>
            <td class="detail">${s.last_error || '—'}</td>
            <td><a class="mono" href=${'#/admin/audit/' + s.application_id}>${s.application_id.slice(0, 8)}…</a></td>
          </tr>`,
        )}
        ${!problems.loading && rows.length === 0
          ? html`<tr><td colspan="7" class="muted">没有需要处理的快递。</td></tr>`
          : null}
      </tbody>
    </table>
  </section>`;
}

// --- Audit

const ACTION_LABELS = {
  login: '登录',
  'login.lock': '登录锁定',
  'staff.create': '新建人员',
  'staff.change_roles': '修改角色与部门',
  'staff.change_email': '修改邮箱',
  'staff.disable': '停用人员',
  'staff.enable': '启用人员',
  'staff.reset_password': '重置密码',
  'staff.unlock': '解除锁定',
  'review.queue': '查看预审队列',
  'review.claim': '领取预审',
  'review.release': '放回队列',
  'review.view': '查看预审案件',
  'review.decision': '预审决定',
  'reception.view': '查看收件案件',
  'reception.receive': '收件核对',
  'reception.close_batches': '立即封批',
  'reception.box_run': '开始开箱',
  'reception.box_scan': '扫描投递码',
  'reception.box_run_close': '结束开箱',
  'department.view': '查看审批案件',
  'department.result_upload': '上传结果文件',
  'department.result_delete': '删除结果文件',
  'department.decide': '部门审批',
  'jobs.retry': '重试任务',
  'service_point.create': '登记代办点',
  'service_point.change': '修改代办点',
  'agent.create': '代办：新建申请',
  'agent.view': '代办：查看申请',
  'agent.upload_page': '代办：上传材料',
  'agent.delete_page': '代办：删除材料',
  'agent.issue_code': '代办：生成确认码',
  'agent.submit': '代办：提交',
  'agent.cancel': '代办：撤回',
  'agent.handover': '代办：交付结果',
  'agent.pickup': '代办：预约上门取件',
  'authorization.accept': '居民确认授权',
  'authorization.revoke': '居民撤回授权',
};
const OUTCOME_LABELS = { success: '成功', failure: '失败', denied: '拒绝' };

/** `datetime-local` text as an RFC 3339 instant, or '' when empty. */
const instant = (local) => (local ? new Date(local).toISOString() : '');

function Audit({ application }) {
  const staff = usePaged('/v1/admin/staff', { limit: 200 }, []);
  const [draft, setDraft] = useState({ actor: '', application, action: '', from: '', to: '' });
  const [filters, setFilters] = useState(draft);
  const query = {
    actor: filters.actor,
    application: filters.application.trim(),
    action: filters.action.trim(),
    from: instant(filters.from),
    to: instant(filters.to),
    limit: 100,
  };
  const list = usePaged('/v1/admin/audit', query, [JSON.stringify(filters)]);
  const set = (patch) => setDraft((d) => ({ ...d, ...patch }));
  const search = (e) => {
    e.preventDefault();
    setFilters({ ...draft });
  };
  const clear = () => {
    const empty = { actor: '', application: '', action: '', from: '', to: '' };
    setDraft(empty);
    setFilters(empty);
  };

  return html`<section aria-labelledby="audit-title">
    <div class="toolbar"><h1 id="audit-title">审计日志</h1></div>
    <form class="filters" onSubmit=${search} aria-label="筛选审计日志">
      <label>操作人
        <select id="audit-actor" value=${draft.actor} onChange=${(e) => set({ actor: e.target.value })}>
          <option value="">全部</option>
          ${staff.items.map((m) => html`<option value=${m.id}>${m.display_name}（${m.username}）</option>`)}
        </select>
      </label>
      <label>案件编号
        <input id="audit-application" type="text" class="mono" size="38" autocomplete="off" value=${draft.application}
          onInput=${(e) => set({ application: e.target.value })} />
      </label>
      <label>操作
        <input id="audit-action" type="text" list="audit-actions" autocomplete="off" value=${draft.action}
          onInput=${(e) => set({ action: e.target.value })} />
        <datalist id="audit-actions">
          ${Object.entries(ACTION_LABELS).map(([k, v]) => html`<option value=${k}>${v}</option>`)}
        </datalist>
      </label>
      <label>起始时间
        <input id="audit-from" type="datetime-local" value=${draft.from} onInput=${(e) => set({ from: e.target.value })} />
      </label>
      <label>截止时间
        <input id="audit-to" type="datetime-local" value=${draft.to} onInput=${(e) => set({ to: e.target.value })} />
      </label>
      <button type="submit" class="primary">查询</button>
      <button type="button" onClick=${clear}>清除</button>
    </form>
    <${ErrorBanner} error=${list.error} />
    <table class="grid audit">
      <caption class="sr-only">审计记录，最新的在前</caption>
      <thead><tr>
        <th scope="col">时间</th><th scope="col">操作人</th><th scope="col">操作</th><th scope="col">对象</th>
        <th scope="col">结果</th><th scope="col">详情</th><th scope="col">IP</th>
      </tr></thead>
      <tbody>
        ${list.items.map(
          (a) => html`<tr data-action=${a.action}>
            <td>${fmtTime(a.at)}</td>
            <td>${a.actor_name || a.actor_kind}</td>
            <td>${ACTION_LABELS[a.action] || a.action} <small class="muted mono">${a.action}</small></td>
            <td class="mono">${a.target_kind ? `${a.target_kind} ${(a.target_id || '').slice(0, 8)}` : '—'}</td>
            <td>${a.outcome === 'success' ? OUTCOME_LABELS.success : html`<span class="tag warn">${OUTCOME_LABELS[a.outcome] || a.outcome}</span>`}</td>
            <td class="detail">${a.detail || ''}${a.on_behalf_of
              ? html`<div class="muted">代居民 <span class="mono">${a.on_behalf_of.slice(0, 8)}</span></div>`
              : null}</td>
            <td class="mono">${a.client_ip || ''}</td>
          </tr>`,
        )}
        ${!list.loading && list.items.length === 0
          ? html`<tr><td colspan="7" class="muted">没有符合条件的记录。</td></tr>`
          : null}
      </tbody>
    </table>
    <${Pager} list=${list} what="记录" />
  </section>`;
}
