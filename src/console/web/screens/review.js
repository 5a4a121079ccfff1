// The reviewer's day: the pre-review queue (filters, SLA colours, "next case" on N), and a case:
// the applicant, each material with its pages in a viewer (thumbnails first, the original on
// demand) and what it reused from the citizen's wallet (who verified it, when, in which case;
// the claim holder can invalidate it), earlier decisions, the timeline, the claim's remaining time (renewed while working),
// and the decision panel. The half-written decision is kept per case in sessionStorage and on
// screen, so an expired session or a lost claim never costs the reviewer their words.

import {
  html, useState, useEffect, useRef, useMemo, useLoad, useKeys, ErrorBanner, Notice, Key,
  fmtTime, fmtDuration, stateLabel,
} from '../ui.js';
import { api, get, post, me } from '../api.js';

let matterCache = null;
/** The catalogue's names by code (public, loaded once). */
export function useMatters() {
  const [matters, setMatters] = useState(matterCache || []);
  useEffect(() => {
    if (matterCache) return;
    get('/v1/matters').then((list) => {
      matterCache = list.items;
      setMatters(list.items);
    }, () => {});
  }, []);
  return matters;
}

/** An item's name, as the catalogue gives it; its code until the catalogue is loaded. */
export const matterName = (matters, code) => (matters.find((m) => m.code === code) || {}).name || code;

/** A department's name, as the catalogue gives it; its code until the catalogue is loaded. */
export const departmentName = (matters, code) =>
  ((matters.find((m) => m.department && m.department.code === code) || {}).department || {}).name || code;

export default function Review({ rest, go }) {
  // Keyed by id: the next case starts with its own viewer and draft.
  return rest[0] ? html`<${Case} key=${rest[0]} id=${rest[0]} go=${go} />` : html`<${Queue} go=${go} />`;
}

/** Claims the oldest case I may review and opens it; says so when there is none. */
async function claimNext(go, setNotice, setError) {
  setError(null);
  setNotice(null);
  try {
    const row = await api('POST', '/v1/review/claim-next');
    if (row) go('review/' + row.id);
    else setNotice('队列中暂无可领取的案件。');
  } catch (e) {
    setError(e);
  }
}

function slaClass(row, now) {
  if (row.overdue) return 'sla-over';
  if (row.due_at && new Date(row.due_at) - now < 2 * 3600 * 1000) return 'sla-soon';
  return 'sla-ok';
}

function Queue({ go }) {
  const matters = useMatters();
  const departments = me().departments;
  const [filters, setFilters] = useState({ matter: '', department: '', overdue: false });
  const [selected, setSelected] = useState(0);
  const [notice, setNotice] = useState(null);
  const [error, setError] = useState(null);
  const queue = useLoad(
    () =>
      get('/v1/review/queue', {
        matter: filters.matter,
        department: filters.department,
        overdue: filters.overdue ? 'true' : '',
        limit: 100,
      }),
    [filters.matter, filters.department, filters.overdue],
    30000,
  );

  const rows = (queue.data && queue.data.items) || [];
  const now = Date.now();

  const next = () => claimNext(go, setNotice, setError);

  useKeys(
    (e) => {
      if (e.key === 'n' || e.key === 'N') {
        e.preventDefault();
        next();
      } else if (e.key === 'j' || e.key === 'ArrowDown') {
        e.preventDefault();
        setSelected((i) => Math.min(rows.length - 1, i + 1));
      } else if (e.key === 'k' || e.key === 'ArrowUp') {
        e.preventDefault();
        setSelected((i) => Math.max(0, i - 1));
      } else if (e.key === 'Enter' && rows[selected] && e.target === document.body) {
        go('review/' + rows[selected].id);
      }
  });

  return html`<section aria-labelledby="queue-title">
    <div class="toolbar">
      <h1 id="queue-title">预审队列</h1>
      <button type="button" class="primary" id="claim-next" onClick=${next}>
        领取下一件 <${Key} k="N" />
      </button>
    </div>
    <form class="filters" onSubmit=${(e) => e.preventDefault()} aria-label="筛选">
      <label>事项
        <select value=${filters.matter} onChange=${(e) => setFilters({ ...filters, matter: e.target.value })}>
          <option value="">全部事项</option>
          ${matters.map((m) => html`<option value=${m.code}>${m.name}</option>`)}
        </select>
      </label>
      <label>部门
        <select value=${filters.department} onChange=${(e) => setFilters({ ...filters, department: e.target.value })}>
          <option value="">我的全部部门</option>
          ${departments.map((d) => html`<option value=${d}>${departmentName(matters, d)}</option>`)}
        </select>
      </label>
      <label class="check">
        <input type="checkbox" checked=${filters.overdue}
          onChange=${(e) => setFilters({ ...filters, overdue: e.target.checked })} />
        只看超时
      </label>
    </form>
    ${notice ? html`<${Notice}>${notice}<//>` : null}
    <${ErrorBanner} error=${error || queue.error} />
    <table class="grid queue">
      <caption class="sr-only">待预审案件</caption>
      <thead><tr>
        <th scope="col">事项</th><th scope="col">部门</th><th scope="col">首次提交</th>
        <th scope="col">已等待</th><th scope="col">时限</th><th scope="col">状态</th>
      </tr></thead>
      <tbody>
        ${rows.map(
          (row, i) => html`<tr class=${slaClass(row, now) + (i === selected ? ' selected' : '')}
              aria-selected=${i === selected ? 'true' : 'false'}>
            <td><a href=${'#/review/' + row.id}>${matterName(matters, row.matter_code)}</a>
              ${row.resubmitted ? html` <span class="tag">补正</span>` : null}</td>
            <td>${departmentName(matters, row.department_code)}</td>
            <td>${fmtTime(row.first_submitted_at)}</td>
            <td>${fmtDuration(row.waited_secs)}</td>
            <td>${row.overdue ? html`<strong>已超时</strong>` : fmtTime(row.due_at)}</td>
            <td>${row.claimed_by_me ? '我已领取' : row.claimed ? '他人处理中' : '待领取'}</td>
          </tr>`,
        )}
        ${!queue.loading && rows.length === 0
          ? html`<tr><td colspan="6" class="muted">没有符合条件的案件。</td></tr>`
          : null}
      </tbody>
    </table>
    <p class="hint">快捷键：<${Key} k="N" /> 领取下一件，<${Key} k="J" />/<${Key} k="K" /> 上下移动，<${Key} k="Enter" /> 打开。</p>
  </section>`;
}

const DEFAULT_REASONS = [
  '照片模糊，请重新拍摄清晰的照片',
  '页面拍摄不完整，请拍全四角',
  '缺少页面，请补齐全部页',
  '有反光或遮挡，关键信息看不清',
  '材料已过有效期，请提供有效材料',
  '材料与事项要求不符',
];

const draftKey = (id) => 'beebox.draft.' + id;

function loadDraft(id) {
  try {
    return JSON.parse(sessionStorage.getItem(draftKey(id))) || null;
  } catch (_) {
    return null;
  }
}

const emptyDraft = () => ({ outcome: '', returns: {}, note: '' });

function Case({ id, go }) {
  const matters = useMatters();
  const loaded = useLoad(() => get(`/v1/review/applications/${id}`), [id]);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const kase = loaded.data;

  const claim = async () => {
    setError(null);
    try {
      await post(`/v1/review/applications/${id}/claim`);
      await loaded.reload();
      return true;
    } catch (e) {
      setError(e);
      return false;
    }
  };
  const release = async () => {
    setError(null);
    try {
      await post(`/v1/review/applications/${id}/release`);
      go('review');
    } catch (e) {
      setError(e);
    }
  };
  const invalidate = async (documentId, reason) => {
    setError(null);
    try {
      const changed = await post(`/v1/review/applications/${id}/documents/${documentId}/invalidate`, { reason });
      loaded.setData(changed);
      setNotice('证照已作废，已从申请人的证照夹移除。如需补正，请退回该材料。');
    } catch (e) {
      setError(e);
    }
  };

  // N opens the next case, once this one is not mine to decide any more.
  useKeys((e) => {
    const busy = kase && kase.application.state === 'submitted' && kase.claim.claimed_by_me;
    if ((e.key === 'n' || e.key === 'N') && !busy) {
      e.preventDefault();
      claimNext(go, setNotice, setError);
    }
  });

  if (loaded.error && !kase) {
    return html`<section><p><a href="#/review">← 返回队列</a></p><${ErrorBanner} error=${loaded.error} /></section>`;
  }
  if (!kase) return html`<p class="muted" aria-busy="true">正在加载案件…</p>`;
  const app = kase.application;
  const mine = kase.claim.claimed_by_me;

  return html`<section class="case" aria-labelledby="case-title">
    <div class="toolbar">
      <a href="#/review">← 返回队列</a>
      <h1 id="case-title">${app.matter.name}</h1>
      <span class="tag">${stateLabel(app.state)}</span>
      ${app.filing ? html`<span class="tag bundle" title="一件事：同一申请人一并提交的其他部门事项由各部门分别审核">一件事：${app.filing.bundle_name}</span>` : null}
      ${app.agent_filing ? html`<span class="tag bundle">代办：${app.agent_filing.service_point.name}</span>` : null}
      <span class="grow"></span>
      ${mine
        ? html`<${ClaimTimer} id=${id} remaining=${kase.claim.claim_remaining_secs || 0} onRenewed=${(c) => loaded.setData((current) => ({ ...current, claim: c }))} />
            <button type="button" onClick=${release}>放回队列</button>`
        : kase.claim.claimed
          ? html`<span class="tag warn">他人处理中</span>`
          : app.state === 'submitted'
            ? html`<button type="button" class="primary" onClick=${claim}>领取本件</button>`
            : null}
    </div>
    ${notice ? html`<${Notice}>${notice}<//>` : null}
    <${ErrorBanner} error=${error} onClose=${() => setError(null)} />
    <div class="case-grid">
      <${Viewer} materials=${app.materials} onInvalidate=${mine && app.state === 'submitted' ? invalidate : null} />
      <aside class="side">
        <${Applicant} app=${app} />
        <${AgentFiling} app=${app} />
        ${app.state === 'submitted'
          ? html`<${DecisionPanel} id=${id} app=${app} mine=${mine} onClaim=${claim}
              onDecided=${(c) => {
                loaded.setData(c);
                setNotice('决定已提交。按 N 领取下一件。');
              }} go=${go} />`
          : null}
        <${Decisions} decisions=${kase.decisions} materials=${app.materials} />
        <${Timeline} events=${kase.events} />
      </aside>
    </div>
  </section>`;
}

/**
 * The claim's remaining time, counted down from the service's own figure (a clerk's PC clock
 * may be off); activity renews it once half of it has passed.
 */
function ClaimTimer({ id, remaining, onRenewed }) {
  const [now, setNow] = useState(Date.now());
  const deadline = useMemo(() => Date.now() + remaining * 1000, [remaining]);
  const lease = useRef(remaining * 1000);
  const renewing = useRef(false);
  const lastActive = useRef(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    const active = () => (lastActive.current = Date.now());
    window.addEventListener('keydown', active);
    window.addEventListener('pointerdown', active);
    window.addEventListener('wheel', active);
    return () => {
      clearInterval(t);
      window.removeEventListener('keydown', active);
      window.removeEventListener('pointerdown', active);
      window.removeEventListener('wheel', active);
    };
  }, []);
  const left = deadline - now;
  useEffect(() => {
    const recentlyActive = now - lastActive.current < 60000;
    if (left > 0 && left < lease.current / 2 && recentlyActive && !renewing.current) {
      renewing.current = true;
      post(`/v1/review/applications/${id}/claim`)
        .then((row) =>
          onRenewed({
            claimed: true,
            claimed_by_me: true,
            claim_expires_at: row.claim_expires_at,
            claim_remaining_secs: row.claim_remaining_secs,
          }),
        )
        .catch(() => {})
        .finally(() => (renewing.current = false));
    }
  }, [now]);
  const secs = Math.max(0, Math.floor(left / 1000));
  const text = `${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, '0')}`;
  return html`<span class=${'claim-timer' + (secs < 120 ? ' warn' : '')} role="timer" aria-live="off">
    领取剩余 <strong>${secs > 0 ? text : '已过期'}</strong>
  </span>`;
}

function Applicant({ app }) {
  const a = app.applicant;
  return html`<section class="panel" aria-labelledby="applicant-title">
    <h2 id="applicant-title">申请人</h2>
    <dl class="facts">
      <dt>姓名</dt><dd>${a.name}</dd>
      <dt>电话</dt><dd>${a.phone || '—'}</dd>
      <dt>证件号</dt><dd class="mono">${a.id_number || '—'}</dd>
      <dt>提交时间</dt><dd>${fmtTime(app.submitted_at)}</dd>
      <dt>事项版本</dt><dd>${app.matter.code} · 第 ${app.matter.version} 版</dd>
    </dl>
    ${app.note ? html`<p class="note">申请人备注：${app.note}</p>` : null}
  </section>`;
}

export const AUTH_METHODS = { mini_program: '居民在小程序中确认', signed_form: '签字的授权委托书' };
export const AUTH_STATUS = { pending: '待确认', granted: '有效', revoked: '居民已撤回', expired: '已过期' };

/** Who filed the case for the resident, where, and how the resident authorized it. */
export function AgentFiling({ app }) {
  const f = app.agent_filing;
  if (!f) return null;
  const auth = f.authorization;
  return html`<section class="panel" aria-labelledby="agent-title">
    <h2 id="agent-title">代办</h2>
    <p>由代办员 ${f.agent_name} 在 ${f.service_point.name} 代 ${app.applicant.name} 申报，授权方式：${AUTH_METHODS[auth.method] || auth.method}${auth.granted_at ? `，授权于 ${fmtTime(auth.granted_at)}` : ''}。</p>
    <dl class="facts">
      <dt>授权状态</dt><dd><span class=${auth.status === 'granted' ? 'tag' : 'tag warn'}>${AUTH_STATUS[auth.status] || auth.status}</span></dd>
      <dt>有效期至</dt><dd>${auth.expires_at ? fmtTime(auth.expires_at) : '—'}</dd>
      ${auth.revoked_at ? html`<dt>撤回时间</dt><dd>${fmtTime(auth.revoked_at)}</dd>` : null}
      ${f.handed_over_at ? html`<dt>已交付居民</dt><dd>${fmtTime(f.handed_over_at)}</dd>` : null}
    </dl>
    ${auth.method === 'signed_form'
      ? html`<p class="muted">授权委托书在材料“授权委托书”中；预审通过即认可该委托书，如有问题请退回该材料。</p>`
      : null}
  </section>`;
}

const DOCUMENT_STATES = { valid: '有效', withdrawn: '申请人已撤回', invalidated: '已作废', replaced: '已被新核验取代' };

/**
 * A document of the citizen's wallet that filled a material: who verified it, when, in which
 * case, and whether it still stands. `onInvalidate(id, reason)` is given to the claim holder.
 */
function Reused({ doc, onInvalidate }) {
  const matters = useMatters();
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const field = `invalidate-${doc.id}`;
  return html`<div class="reused" data-document=${doc.id}>
    <p><span class=${doc.state === 'valid' ? 'tag ok' : 'tag warn'}>证照夹复用</span>
      ${fmtTime(doc.verified_at)} 由 ${doc.verified_by ? doc.verified_by.display_name : '—'} 核验，
      案件 <code title=${doc.source.application_id}>${doc.source.application_id.slice(-8)}</code>（${departmentName(matters, doc.source.department_code)}）
      · ${DOCUMENT_STATES[doc.state] || doc.state}</p>
    ${doc.end_reason ? html`<p class="muted">作废原因：${doc.end_reason}</p>` : null}
    ${onInvalidate && doc.state === 'valid'
      ? open
        ? html`<form class="invalidate" onSubmit=${(e) => {
            e.preventDefault();
            if (reason.trim()) onInvalidate(doc.id, reason.trim());
          }}>
            <label for=${field}>作废原因（申请人可见）</label>
            <input id=${field} value=${reason} maxlength="500" required onInput=${(e) => setReason(e.target.value)} />
            <button type="submit" class="danger">确认作废</button>
            <button type="button" onClick=${() => setOpen(false)}>取消</button>
          </form>`
        : html`<button type="button" onClick=${() => setOpen(true)}>作废此证照</button>`
      : null}
  </div>`;
}

/** Pages of every material: thumbnails list, one page large, keys to move, zoom and rotate. */
export function Viewer({ materials, onInvalidate = null }) {
  const pages = useMemo(
    () => materials.flatMap((m, mi) => m.pages.map((p, pi) => ({ ...p, mi, pi, material: m }))),
    [materials],
  );
  const [at, setAt] = useState(0);
  const [zoom, setZoom] = useState(1);
  const [rotate, setRotate] = useState(0);
  // 'page': the whole page in view; 'width': as wide as the viewer; null: zoomed by hand.
  const [fit, setFit] = useState('page');
  const [original, setOriginal] = useState(false);
  const page = pages[at];

  const show = (i) => {
    if (i < 0 || i >= pages.length) return;
    setAt(i);
    setZoom(1);
    setRotate(0);
    setFit('page');
    setOriginal(false);
  };
  const material = (step) => {
    if (!page) return;
    const target = pages.findIndex((p) => p.mi === page.mi + step);
    if (target >= 0) show(target);
  };
  // The next page's small image is fetched ahead, so moving on is instant.
  useEffect(() => {
    const next = pages[at + 1];
    if (next && (next.thumbnail_url || next.url)) new Image().src = next.thumbnail_url || next.url;
  }, [at, pages]);

  useKeys(
    (e) => {
      const k = e.key;
      if (k === 'ArrowRight' || k === 'l') show(at + 1);
      else if (k === 'ArrowLeft' || k === 'h') show(at - 1);
      else if (k === ']') material(1);
      else if (k === '[') material(-1);
      else if (k === '+' || k === '=') {
        setZoom((z) => Math.min(5, z * 1.25));
        setFit(null);
        setOriginal(true);
      } else if (k === '-') setZoom((z) => Math.max(0.2, z / 1.25));
      else if (k === 'r' || k === 'R') setRotate((r) => (r + 90) % 360);
      else if (k === 'f' || k === 'F') {
        setFit('width');
        setZoom(1);
      } else if (k === 'o' || k === 'O') setOriginal(true);
      else return;
      e.preventDefault();
  });

  if (!page) return html`<section class="viewer panel"><p class="muted">没有上传的页面。</p></section>`;
  const isImage = page.content_type.startsWith('image/') && page.content_type !== 'image/heic';
  const src = original || !page.thumbnail_url ? page.url : page.thumbnail_url;
  const style = `transform: rotate(${rotate}deg) scale(${zoom});`;

  return html`<section class="viewer-wrap" aria-label="材料页面">
    <nav class="materials" aria-label="材料">
      ${materials.map(
        (m, mi) => html`<div class=${'material' + (page.mi === mi ? ' current' : '')}>
          <h3>${m.name}</h3>
          <p class="req">${m.required ? '必交' : '选交'} · ${m.min_pages === m.max_pages ? m.min_pages : `${m.min_pages}–${m.max_pages}`} 页${m.original_required ? ' · 需原件' : ''}
            · 已传 ${m.page_count} 页</p>
          ${m.guidance ? html`<details class="guidance"><summary>拍摄要求</summary><p>${m.guidance}</p></details>` : null}
          ${(m.reused || []).map((d) => html`<${Reused} key=${d.id} doc=${d} onInvalidate=${onInvalidate} />`)}
          <ul class="thumbs">
            ${m.pages.map((p, pi) => {
              const i = pages.findIndex((x) => x.mi === mi && x.pi === pi);
              return html`<li><button type="button" class=${i === at ? 'thumb current' : 'thumb'}
                  aria-current=${i === at ? 'true' : undefined} onClick=${() => show(i)}>
                <span class="sr-only">${m.name} 第 ${pi + 1} 页</span>
                ${p.thumbnail_url ? html`<img src=${p.thumbnail_url} alt="" loading="lazy" />` : html`<span>${p.content_type === 'application/pdf' ? 'PDF' : '照片'}</span>`}
              </button></li>`;
            })}
          </ul>
        </div>`,
      )}
    </nav>
    <div class="viewer panel">
      <div class="viewer-bar">
        <strong id="viewer-title">${page.material.name} · 第 ${page.pi + 1}/${page.material.pages.length} 页</strong>
        <span class="grow"></span>
        <button type="button" onClick=${() => show(at - 1)} aria-label="上一页" title="上一页 (←)">‹</button>
        <button type="button" onClick=${() => show(at + 1)} aria-label="下一页" title="下一页 (→)">›</button>
        <button type="button" id="zoom-in" onClick=${() => { setZoom(zoom * 1.25); setFit(null); setOriginal(true); }} title="放大 (+)">放大</button>
        <button type="button" id="zoom-out" onClick=${() => setZoom(Math.max(0.2, zoom / 1.25))} title="缩小 (-)">缩小</button>
        <button type="button" id="rotate" onClick=${() => setRotate((rotate + 90) % 360)} title="旋转 (R)">旋转</button>
        <button type="button" onClick=${() => { setFit('width'); setZoom(1); }} title="适合宽度 (F)">适合宽度</button>
        <button type="button" disabled=${original || !page.url} onClick=${() => setOriginal(true)} title="原图 (O)">原图</button>
      </div>
      <div class=${'stage' + (fit ? ' fit-' + fit : '')} tabindex="0" role="region" aria-labelledby="viewer-title">
        ${isImage && src
          ? html`<img id="page-image" src=${src} style=${style} data-zoom=${zoom} data-rotate=${rotate}
              data-original=${original || !page.thumbnail_url ? 'true' : 'false'}
              alt=${`${page.material.name} 第 ${page.pi + 1} 页`} />`
          : html`<p><a href=${page.url} target="_blank" rel="noopener noreferrer">打开文件（${page.content_type}）</a></p>`}
      </div>
      <p class="hint">
        <${Key} k="←" />/<${Key} k="→" /> 翻页，<${Key} k="[" />/<${Key} k="]" /> 切换材料，
        <${Key} k="+" />/<${Key} k="-" /> 缩放，<${Key} k="R" /> 旋转，<${Key} k="F" /> 适合宽度，<${Key} k="O" /> 原图
      </p>
    </div>
  </section>`;
}

// Common reasons by item, kept for ten minutes: a reviewer's next case of the same item costs
// no extra request.
const reasonCache = new Map();

/** Common reasons for a material: those reviewers used most for it, then general ones. */
function useCommonReasons(matterCode) {
  const cached = reasonCache.get(matterCode);
  const fresh = cached && Date.now() - cached.at < 600000;
  const [byMaterial, setByMaterial] = useState(fresh ? cached.byMaterial : {});
  useEffect(() => {
    if (fresh) return;
    get('/v1/stats/returns', { matter: matterCode }).then(
      (stats) => {
        const out = {};
        for (const row of stats.items || []) {
          if (row.matter_code !== matterCode) continue;
          out[row.material_code] = (row.top_reasons || []).map((r) => r.reason);
        }
        reasonCache.set(matterCode, { at: Date.now(), byMaterial: out });
        setByMaterial(out);
      },
      () => {},
    );
  }, [matterCode]);
  return (material) => [...new Set([...(byMaterial[material] || []), ...DEFAULT_REASONS])];
}

function DecisionPanel({ id, app, mine, onClaim, onDecided }) {
  const [draft, setDraft] = useState(() => loadDraft(id) || emptyDraft());
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const reasonsFor = useCommonReasons(app.matter.code);

  useEffect(() => {
    sessionStorage.setItem(draftKey(id), JSON.stringify(draft));
  }, [draft]);

  const setReturn = (code, patch) =>
    setDraft((d) => ({ ...d, returns: { ...d.returns, [code]: { ...(d.returns[code] || { on: false, pick: '', text: '' }), ...patch } } }));

  const reasons = () =>
    Object.entries(draft.returns)
      .filter(([, r]) => r.on)
      .map(([material_code, r]) => ({
        material_code,
        reason: [r.pick, r.text.trim()].filter(Boolean).join('；'),
      }));

  const submit = async (e) => {
    if (e) e.preventDefault();
    setError(null);
    let body;
    if (draft.outcome === 'approve') body = { outcome: 'approve' };
    else if (draft.outcome === 'return') {
      const list = reasons();
      if (list.length === 0) return setError({ message: '请至少选择一项需补正的材料。' });
      if (list.some((r) => !r.reason)) return setError({ message: '每项需补正的材料都要写明原因。' });
      body = { outcome: 'return', reasons: list };
    } else if (draft.outcome === 'reject') {
      if (!draft.note.trim()) return setError({ message: '不予受理须写明原因。' });
      body = { outcome: 'reject', note: draft.note.trim() };
    } else return setError({ message: '请选择预审结论。' });
    setBusy(true);
    try {
      const kase = await post(`/v1/review/applications/${id}/decision`, body);
      sessionStorage.removeItem(draftKey(id));
      onDecided(kase);
    } catch (err) {
      if (err.code === 'claim_required') {
        setError({ lost: true, message: '您对本件的领取已过期，决定没有提交。草稿已保留：重新领取后再提交。' });
      } else if (err.code === 'claimed_by_other') {
        setError({ message: '本件已由其他预审员领取，您的决定没有提交。草稿已保留。' });
      } else setError(err);
    } finally {
      setBusy(false);
    }
  };

  useKeys(
    (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        submit();
      }
  });

  const outcomes = [
    ['approve', '预审通过'],
    ['return', '退回补正'],
    ['reject', '不予受理'],
  ];
  return html`<section class="panel decision" aria-labelledby="decision-title">
    <h2 id="decision-title">预审结论</h2>
    ${!mine
      ? html`<p class="alert alert-warn" role="status">您未领取本件，不能提交决定。${' '}
          <button type="button" class="link" onClick=${onClaim}>领取本件</button></p>`
      : null}
    <form onSubmit=${submit}>
      <fieldset class="outcomes">
        <legend class="sr-only">结论</legend>
        ${outcomes.map(
          ([value, label]) => html`<label class="radio">
            <input type="radio" name="outcome" value=${value} checked=${draft.outcome === value}
              onChange=${() => {
                setDraft({ ...draft, outcome: value });
                setError(null);
              }} /> ${label}
          </label>`,
        )}
      </fieldset>
      ${draft.outcome === 'return'
        ? html`<fieldset class="returns"><legend>需补正的材料及原因</legend>
            ${app.materials.map((m) => {
              const r = draft.returns[m.code] || { on: false, pick: '', text: '' };
              const base = 'ret-' + m.code;
              return html`<div class="return-row">
                <label class="check"><input type="checkbox" id=${base} checked=${r.on}
                  onChange=${(e) => setReturn(m.code, { on: e.target.checked })} /> ${m.name}</label>
                ${r.on
                  ? html`<label class="sr-only" for=${base + '-pick'}>${m.name} 常用原因</label>
                    <select id=${base + '-pick'} value=${r.pick} onChange=${(e) => setReturn(m.code, { pick: e.target.value })}>
                      <option value="">选择常用原因…</option>
                      ${reasonsFor(m.code).map((text) => html`<option value=${text}>${text}</option>`)}
                    </select>
                    <label class="sr-only" for=${base + '-text'}>${m.name} 补充说明</label>
                    <textarea id=${base + '-text'} rows="2" maxlength="500" placeholder="补充说明（可选）"
                      value=${r.text} onInput=${(e) => setReturn(m.code, { text: e.target.value })}></textarea>`
                  : null}
              </div>`;
            })}
          </fieldset>`
        : null}
      ${draft.outcome === 'reject'
        ? html`<label for="reject-note">不予受理的原因</label>
          <textarea id="reject-note" rows="3" maxlength="1000" value=${draft.note}
            onInput=${(e) => setDraft({ ...draft, note: e.target.value })}></textarea>`
        : null}
      <${ErrorBanner} error=${error} />
      ${error && error.lost
        ? html`<button type="button" onClick=${async () => (await onClaim()) && setError(null)}>重新领取</button>`
        : null}
      <button type="submit" class="primary" id="submit-decision" disabled=${busy || !mine}>
        提交决定 <${Key} k="Ctrl+Enter" />
      </button>
    </form>
  </section>`;
}

const OUTCOME_LABELS = { approve: '预审通过', return: '退回补正', reject: '不予受理' };

function Decisions({ decisions, materials }) {
  if (!decisions.length) return null;
  const name = (code) => (materials.find((m) => m.code === code) || {}).name || code;
  return html`<section class="panel" aria-labelledby="decisions-title">
    <h2 id="decisions-title">以往预审</h2>
    <ul class="plain">
      ${decisions.map(
        (d) => html`<li>
          <strong>${OUTCOME_LABELS[d.outcome] || d.outcome}</strong> · ${fmtTime(d.created_at)}
          ${d.reasons.length ? html`<ul>${d.reasons.map((r) => html`<li>${name(r.material_code)}：${r.reason}</li>`)}</ul>` : null}
          ${d.note ? html`<p>${d.note}</p>` : null}
        </li>`,
      )}
    </ul>
  </section>`;
}

const ACTOR_LABELS = { citizen: '申请人', staff: '工作人员', courier: '快递', system: '系统' };

/** Events that move nothing, named for what happened. */
const EVENT_LABELS = {
  attach_document: '使用证照夹中的证照',
  invalidate_document: '作废复用的证照',
  remind_drop_off: '逾期未投递，已提醒申请人',
};

export function Timeline({ events }) {
  return html`<section class="panel" aria-labelledby="timeline-title">
    <h2 id="timeline-title">办理记录</h2>
    <ol class="timeline">
      ${events.map(
        (e) => html`<li>
          <time datetime=${e.created_at}>${fmtTime(e.created_at)}</time>
          <span>${ACTOR_LABELS[e.actor_kind] || e.actor_kind}：${EVENT_LABELS[e.action]
            || `${stateLabel(e.from_state || '')}${e.from_state ? ' → ' : ''}${stateLabel(e.to_state)}`}</span>
          ${e.reason ? html`<small>${e.reason}</small>` : null}
        </li>`,
      )}
    </ol>
  </section>`;
}
