// Shared pieces of every screen: the template tag, labels in Chinese, time formats, the error
// banner and a loader hook. Screens import from here and from api.js only.

import { html, useState, useEffect, useCallback, useRef } from './vendor/htm-preact.js';

export { html, useState, useEffect, useCallback, useRef };
export { render, useMemo, useReducer } from './vendor/htm-preact.js';

export const STATE_LABELS = {
  draft: '草稿',
  submitted: '待预审',
  returned: '已退回补正',
  rejected: '不予受理',
  prereview_passed: '预审通过',
  pickup_scheduled: '已预约取件',
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
  reception: '收件员',
  approver: '审批员',
  admin: '管理员',
};

export const stateLabel = (s) => STATE_LABELS[s] || s;

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

/** An API error as the clerk reads it: the problem's `detail`, never a blank screen. */
export function ErrorBanner({ error, onClose }) {
  if (!error) return null;
  const text = error.message || String(error);
  return html`<div class="alert alert-error" role="alert">
    <span>${text}</span>
    ${error.code ? html`<small class="code">（${error.code}）</small>` : null}
    ${onClose ? html`<button type="button" class="link" onClick=${onClose}>关闭</button>` : null}
  </div>`;
}

export function Notice({ children, kind = 'info' }) {
  return html`<div class=${'alert alert-' + kind} role="status">${children}</div>`;
}

/**
 * Loads `fn()` when `deps` change: `{ data, error, loading, reload, setData }`.
 */
export function useLoad(fn, deps) {
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
  const setData = (data) => setState((s) => ({ ...s, data }));
  return { ...state, reload, setData };
}

/**
 * Calls `handler(event)` for keys pressed outside text fields (and Ctrl/⌘+Enter, Escape
 * anywhere). The latest handler always runs, so it sees the latest state.
 */
export function useKeys(handler) {
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => {
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
