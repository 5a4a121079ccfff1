// Shared pieces of every screen: the template tag, labels in Chinese, time formats, the error
// banner and a loader hook. Screens import from here and from api.js only.

import { html, useState, useEffect, useLayoutEffect, useCallback, useRef } from './vendor/htm-preact.js';

export { html, useState, useEffect, useCallback, useRef };
export { render, useMemo, useReducer } from './vendor/htm-preact.js';

export const STATE_LABELS = {
  draft: '草稿',
  submitted: '待预审',
  returned: '已退回补正',
  rejected: '不予受理',
  prereview_passed: '预审通过',
  pickup_scheduled: '已预约取件',
  awaiting_drop_off: '待投递原件',
  originals_in_transit: '原件寄送中',
  received: '已收件',
  at_department: '部门审批中',
  approved: '审批通过',
  refused: '审批不通过',
  result_in_delivery: '结果寄送中',
  completed: '已办结',
  cancelled: '已撤回',
};

export const ROLE_LABELS = {
  reviewer: '预审员',
  agent: '代办员',
  reception: '收件员',
  approver: '审批员',
  admin: '管理员',
};

export const stateLabel = (s) => STATE_LABELS[s] || s;

/** Who carries a leg: a courier partner, or the citizen through the 24-hour box. */
export const PARTNER_LABELS = { sf: '顺丰', ems: 'EMS', box: '投递箱' };
export const partnerLabel = (p) => PARTNER_LABELS[p] || p;

const pad = (n) => String(n).padStart(2, '0');

/** `2026-12-06 09:30`, in the browser's local time. */
export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** `3天4小时`, `2小时5分`, `45秒`. */
export function fmtDuration(secs) {
  if (secs === null || secs === undefined) return '—';
  secs = Math.max(0, Math.round(secs));
  const d = Math.floor(secs / 86400);
  const h = Math.floor((secs % 86400) / 3600);
  const m = Math.floor((secs % 3600) / 60);
  if (d) return `${d}天${h}小时`;
  if (h) return `${h}小时${m}分`;
  if (m) return `${m}分${secs % 60}秒`;
  return `${secs}秒`;
}

/** The clerk's words for the refusals a screen meets most; others show the API's detail. */
const MESSAGES = {
  network: '无法连接服务器，请检查网络后重试。',
  invalid_state: '案件状态已变化，不能进行此操作。请刷新后查看。',
  claim_required: '请先领取本件；您的领取可能已过期。',
  claimed_by_other: '本件已由其他预审员领取。',
  not_claim_holder: '您不是本件的领取人。',
  application_not_found: '未找到该案件，或它不属于您的部门。',
  role_required: '您的账号没有此操作的权限。',
  session_ended: '登录已失效，请重新登录。',
  account_disabled: '该账号已被停用，请联系管理员。',
  validation_failed: '填写的内容有误，请检查后再提交。',
  waybill_not_found: '未找到该运单号对应的案件（不属于您的部门，或号码有误）。',
  department_not_found: '没有该部门，或它不是您的部门。',
  invalid_date: '日期格式不正确。',
  invalid_period: '统计期间不正确：开始日期须早于结束日期，且不超过一年。',
  storage_unavailable: '文件存储暂时不可用，请稍后重试。',
  database_unavailable: '服务暂时不可用，请稍后重试。',
  rate_limited: '操作过于频繁，请稍后再试。',
  already_decided: '部门已对本件作出决定。',
  concurrent_change: '他人刚刚修改了此内容，请刷新后重试。',
  username_taken: '该用户名已被使用。',
  service_point_code_taken: '该代办点代码已被使用。',
  job_not_dead: '该任务不在失败状态，无需重试。',
  batch_not_found: '未找到该批次。',
  box_run_not_found: '未找到该次开箱记录。',
  box_run_closed: '本次开箱已结束，请开始新的一次开箱。',
  internal_error: '服务器出错了，请稍后重试；如仍出错请联系管理员。',
};

/**
 * An API error as the clerk reads it, never a blank screen: in Chinese where the code is a
 * common one, always with the problem's own `detail`.
 */
export function ErrorBanner({ error, onClose }) {
  if (!error) return null;
  const detail = error.message || String(error);
  const words = error.code && MESSAGES[error.code];
  const fields = (error.problem && error.problem.errors) || [];
  return html`<div class="alert alert-error" role="alert">
    <span>${words || detail}</span>
    ${words && words !== detail ? html`<small class="detail" lang="en">${detail}</small>` : null}
    ${error.code ? html`<small class="code">（${error.code}）</small>` : null}
    ${fields.length
      ? html`<ul class="field-errors" lang="en">${fields.map((f) => html`<li><code>${f.field}</code>：${f.message}</li>`)}</ul>`
      : null}
    ${onClose ? html`<button type="button" class="link" onClick=${onClose}>关闭</button>` : null}
  </div>`;
}

export function Notice({ children, kind = 'info' }) {
  return html`<div class=${'alert alert-' + kind} role="status">${children}</div>`;
}

/**
 * Loads `fn()` when `deps` change, and again every `every` ms when given (a queue other clerks
 * work too): `{ data, error, loading, reload, setData }`. Only the latest load's answer is
 * kept, and `setData` supersedes any load still in flight.
 */
export function useLoad(fn, deps, every = 0) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const seq = useRef(0);
  const reload = useCallback(() => {
    const mine = ++seq.current;
    setState((s) => ({ ...s, loading: true, error: null }));
    return fn().then(
      (data) => mine === seq.current && setState({ data, error: null, loading: false }),
      (error) => mine === seq.current && setState((s) => ({ ...s, error, loading: false })),
    );
  }, deps);
  useEffect(() => {
    reload();
  }, [reload]);
  useEffect(() => {
    if (!every) return undefined;
    const t = setInterval(reload, every);
    return () => clearInterval(t);
  }, [reload, every]);
  // A screen sets data from a fresher answer (a decision's result): a load still in flight was
  // read before it, so its late answer must not overwrite it.
  // `data` may be a function of the current data.
  const setData = (data) => {
    seq.current++;
    setState((s) => ({ ...s, data: typeof data === 'function' ? data(s.data) : data, loading: false }));
  };
  return { ...state, reload, setData };
}

/**
 * Calls `handler(event)` for keys pressed outside text fields (and Ctrl/⌘+Enter, Escape
 * anywhere). The latest handler always runs, so it sees the latest state.
 */
export function useKeys(handler) {
  const latest = useRef(handler);
  latest.current = handler;
  // A layout effect: listening before the screen is painted, so a key pressed as soon as it
  // shows is never lost.
  useLayoutEffect(() => {
    const listener = (e) => {
      const t = e.target;
      const typing =
        t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable);
      const anywhere = (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) || e.key === 'Escape';
      if ((typing && !anywhere) || e.altKey) return;
      latest.current(e);
    };
    window.addEventListener('keydown', listener);
    return () => window.removeEventListener('keydown', listener);
  }, []);
}

/** Saves a blob under `name` through a temporary link. */
export function download(blob, name) {
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 1000);
}

/** A `<kbd>` hint. */
export const Key = ({ k }) => html`<kbd>${k}</kbd>`;
