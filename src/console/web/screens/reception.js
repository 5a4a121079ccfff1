// Reception's desk: the parcels of originals the courier delivered, a scan box the barcode
// scanner types into (waybill number + Enter opens the case), the case's photos beside a
// checklist of the originals to check, today's dispatch batches with their manifests, and the
// 24-hour box: today's emptyings, the run envelopes are scanned into, and drops gone late.
// Each scan box keeps focus between scans, so a clerk can work a pile without the mouse.

import {
  html, useState, useEffect, useRef, useLoad, ErrorBanner, Notice, fmtTime, stateLabel, download,
  partnerLabel,
} from '../ui.js';
import { api, get, post } from '../api.js';
import { Viewer, Timeline, useMatters, departmentName, matterName } from './review.js';

// What the last case's outcome was, shown on the list the clerk comes back to.
let flash = null;

export default function Reception({ rest, go }) {
  if (rest[0] === 'batches') return html`<${Tabs} at="batches" /><${Batches} />`;
  if (rest[0] === 'box') return html`<${Tabs} at="box" /><${DropBox} />`;
  if (rest[0]) return html`<${Case} id=${rest[0]} go=${go} />`;
  return html`<${Tabs} at="queue" /><${Queue} go=${go} />`;
}

function Tabs({ at }) {
  const tabs = [
    ['queue', '#/reception', '到件待收'],
    ['batches', '#/reception/batches', '今日批次'],
    ['box', '#/reception/box', '投递箱'],
  ];
  return html`<nav class="tabs" aria-label="收件">
    ${tabs.map(
      ([key, href, label]) => html`<a href=${href} aria-current=${key === at ? 'page' : undefined}>${label}</a>`,
    )}
  </nav>`;
}

/** Where a scanned case stands, in the clerk's words, when there is nothing to receive. */
function standing(found, name) {
  const who = `${found.applicant_name}（${name}）`;
  if (found.state === 'awaiting_drop_off') {
    return `投递码 ${found.waybill_no} 属于 ${who}，尚未在开箱时签收：请先在「投递箱」中扫描这封信。`;
  }
  if (found.state === 'originals_in_transit') {
    return `运单 ${found.waybill_no} 属于 ${who}，快递尚未送达本中心，暂不能收件。`;
  }
  return `运单 ${found.waybill_no} 属于 ${who}，当前状态为「${stateLabel(found.state)}」，无需再次收件。`;
}

/** The box a barcode scanner types into: it types the number and presses Enter. */
function ScanBox({ go, matters }) {
  const input = useRef(null);
  const [value, setValue] = useState('');
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState(null);
  useEffect(() => input.current && input.current.focus(), []);

  const scan = async (e) => {
    e.preventDefault();
    const number = value.trim();
    if (!number || busy) return;
    setBusy(true);
    setMessage(null);
    try {
      const found = await get(`/v1/reception/waybills/${encodeURIComponent(number)}`);
      if (found.awaiting_reception) {
        go('reception/' + found.id);
        return;
      }
      setMessage({ kind: 'warn', text: standing(found, matterName(matters, found.matter_code)) });
    } catch (err) {
      if (err.code === 'waybill_not_found') {
        setMessage({
          kind: 'error',
          text: `未找到运单号 ${number} 对应的案件。请核对运单号，或确认该件属于您负责的部门。`,
        });
      } else {
        setMessage({ kind: 'error', error: err });
      }
    } finally {
      setBusy(false);
      setValue('');
      if (input.current) input.current.focus();
    }
  };

  return html`<form class="scan panel" onSubmit=${scan} role="search" aria-label="扫描运单">
    <label for="scan-waybill">扫描运单号</label>
    <div class="scan-row">
      <input id="scan-waybill" class="mono" autocomplete="off" spellcheck="false" maxlength="64"
        ref=${input} value=${value} onInput=${(e) => setValue(e.target.value)}
        aria-describedby="scan-hint" />
      <button type="submit" disabled=${busy}>查找</button>
    </div>
    <p class="hint" id="scan-hint">用扫码枪扫描快递面单，或输入运单号后按 Enter。</p>
    ${message && message.error ? html`<${ErrorBanner} error=${message.error} />` : null}
    ${message && !message.error
      ? html`<div class=${'alert alert-' + message.kind} role="alert" id="scan-result">${message.text}</div>`
      : null}
  </form>`;
}

function Queue({ go }) {
  const matters = useMatters();
  const queue = useLoad(() => get('/v1/reception/queue'), [], 30000);
  const [notice] = useState(() => {
    const n = flash;
    flash = null;
    return n;
  });
  const rows = (queue.data && queue.data.items) || [];

  return html`<section aria-labelledby="reception-title">
    <div class="toolbar"><h1 id="reception-title">到件待收</h1></div>
    ${notice ? html`<${Notice} kind="ok">${notice}<//>` : null}
    <${ScanBox} go=${go} matters=${matters} />
    <${ErrorBanner} error=${queue.error} />
    <table class="grid arrived">
      <caption class="sr-only">快递已送达、待核对原件的案件</caption>
      <thead><tr>
        <th scope="col">运单号</th><th scope="col">渠道</th><th scope="col">事项</th><th scope="col">部门</th>
        <th scope="col">申请人</th><th scope="col">送达时间</th>
      </tr></thead>
      <tbody>
        ${rows.map(
          (row) => html`<tr>
            <td class="mono"><a href=${'#/reception/' + row.id}>${row.waybill_no || '（无运单号）'}</a></td>
            <td>${partnerLabel(row.partner)}</td>
            <td>${matterName(matters, row.matter_code)}</td>
            <td>${departmentName(matters, row.department_code)}</td>
            <td>${row.applicant_name}</td>
            <td>${fmtTime(row.delivered_at)}</td>
          </tr>`,
        )}
        ${!queue.loading && rows.length === 0
          ? html`<tr><td colspan="6" class="muted">没有待收件的快递。</td></tr>`
          : null}
      </tbody>
    </table>
  </section>`;
}

function Case({ id, go }) {
  const loaded = useLoad(() => get(`/v1/reception/applications/${id}`), [id]);
  const kase = loaded.data;
  if (loaded.error && !kase) {
    return html`<section><p><a href="#/reception">← 返回到件列表</a></p><${ErrorBanner} error=${loaded.error} /></section>`;
  }
  if (!kase) return html`<p class="muted" aria-busy="true">正在加载案件…</p>`;
  const app = kase.application;
  return html`<section class="case" aria-labelledby="case-title">
    <div class="toolbar">
      <a href="#/reception">← 返回到件列表</a>
      <h1 id="case-title">${app.matter.name}</h1>
      <span class="tag">${stateLabel(app.state)}</span>
    </div>
    <div class="case-grid">
      <${Viewer} materials=${app.materials} />
      <aside class="side">
        <section class="panel" aria-labelledby="applicant-title">
          <h2 id="applicant-title">申请人</h2>
          <dl class="facts">
            <dt>姓名</dt><dd>${app.applicant.name}</dd>
            <dt>证件号</dt><dd class="mono">${app.applicant.id_number || '—'}</dd>
            <dt>部门</dt><dd>${app.matter.department.name}</dd>
          </dl>
        </section>
        ${app.state === 'originals_in_transit'
          ? html`<${Checklist} id=${id} app=${app} onDone=${(text) => {
              flash = text;
              go('reception');
            }} />`
          : html`<${Notice}>本件当前状态为「${stateLabel(app.state)}」，无需收件。<//>`}
        <${Timeline} events=${kase.events} />
      </aside>
    </div>
  </section>`;
}

/** The originals to check, one box each, and the two answers. */
function Checklist({ id, app, onDone }) {
  const originals = app.materials.filter((m) => m.original_required);
  const [checked, setChecked] = useState({});
  const [note, setNote] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const unchecked = originals.filter((m) => !checked[m.code]);

  const send = async (matches) => {
    setError(null);
    let body;
    if (matches) {
      if (unchecked.length) {
        return setError({ message: `还有原件未核对：${unchecked.map((m) => m.name).join('、')}。` });
      }
      body = { matches: true, note: note.trim() || undefined };
    } else {
      if (!unchecked.length) {
        return setError({ message: '请取消勾选与照片不符的原件。' });
      }
      if (!note.trim()) return setError({ message: '原件不符须写明说明，申请人将据此补正。' });
      body = { matches: false, mismatched_materials: unchecked.map((m) => m.code), note: note.trim() };
    }
    setBusy(true);
    try {
      const done = await post(`/v1/reception/applications/${id}/receive`, body);
      onDone(
        done.state === 'received'
          ? `已收件：${app.applicant.name}的${app.matter.name}，原件相符，将随下一批次送交部门。`
          : `已登记原件不符：${app.applicant.name}的${app.matter.name}已退回申请人补正。`,
      );
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return html`<section class="panel checklist" aria-labelledby="checklist-title">
    <h2 id="checklist-title">核对原件</h2>
    <p class="hint">逐项核对纸质原件与左侧照片，相符的打勾。</p>
    <fieldset>
      <legend class="sr-only">需要核对的原件</legend>
      ${originals.map(
        (m) => html`<label class="check">
          <input type="checkbox" id=${'orig-' + m.code} checked=${!!checked[m.code]}
            onChange=${(e) => setChecked({ ...checked, [m.code]: e.target.checked })} />
          ${m.name}
        </label>`,
      )}
      ${originals.length === 0 ? html`<p class="muted">本事项无须核对原件。</p>` : null}
    </fieldset>
    <label for="receive-note">说明（原件不符时必填，将告知申请人）</label>
    <textarea id="receive-note" rows="3" maxlength="500" value=${note}
      onInput=${(e) => setNote(e.target.value)}></textarea>
    <${ErrorBanner} error=${error} />
    <div class="actions">
      <button type="button" class="primary" id="receive-match" disabled=${busy} onClick=${() => send(true)}>原件相符</button>
      <button type="button" class="danger" id="receive-mismatch" disabled=${busy} onClick=${() => send(false)}>原件不符</button>
    </div>
  </section>`;
}

const isToday = (iso) => {
  const d = new Date(iso);
  const now = new Date();
  return d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth() && d.getDate() === now.getDate();
};

function Batches() {
  const matters = useMatters();
  const batches = useLoad(() => get('/v1/reception/batches', { limit: 100 }), []);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [busy, setBusy] = useState(false);
  const rows = ((batches.data && batches.data.items) || []).filter((b) => isToday(b.created_at));

  const closeNow = async () => {
    setError(null);
    setNotice(null);
    setBusy(true);
    try {
      const closed = await post('/v1/reception/batches/close', {});
      const cases = closed.items.reduce((n, b) => n + b.case_count, 0);
      setNotice(
        closed.items.length
          ? `已封批 ${closed.items.length} 批，共 ${cases} 件，已送交部门。`
          : '当前没有待封批的已收件案件。',
      );
      await batches.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const label = (b) => `${departmentName(matters, b.department_code)} ${fmtTime(b.cutoff_at)}`;
  const manifest = async (batch, format) => {
    setError(null);
    try {
      const blob = await api('GET', `/v1/reception/batches/${batch.id}/manifest`, { query: { format }, as: 'blob' });
      download(blob, `交接清单-${batch.department_code}-${fmtTime(batch.cutoff_at).replace(/[-: ]/g, '')}.${format}`);
    } catch (err) {
      setError(err);
    }
  };

  return html`<section aria-labelledby="batches-title">
    <div class="toolbar">
      <h1 id="batches-title">今日批次</h1>
      <span class="grow"></span>
      <button type="button" class="primary" id="close-batch" disabled=${busy} onClick=${closeNow}>立即封批</button>
    </div>
    <p class="hint">已收件的案件在每个截止时间自动封批送交部门；「立即封批」现在就封。</p>
    ${notice ? html`<${Notice} kind="ok">${notice}<//>` : null}
    <${ErrorBanner} error=${error || batches.error} />
    <table class="grid batches">
      <caption class="sr-only">今日的交接批次</caption>
      <thead><tr>
        <th scope="col">部门</th><th scope="col">封批时间</th><th scope="col">件数</th><th scope="col">交接清单</th>
      </tr></thead>
      <tbody>
        ${rows.map(
          (b) => html`<tr>
            <td>${departmentName(matters, b.department_code)}</td>
            <td>${fmtTime(b.cutoff_at)}</td>
            <td>${b.case_count}</td>
            <td class="row-actions">
              <button type="button" onClick=${() => manifest(b, 'pdf')} aria-label=${`下载 PDF：${label(b)}`}>下载 PDF</button>
              <button type="button" onClick=${() => manifest(b, 'csv')} aria-label=${`下载 CSV：${label(b)}`}>下载 CSV</button>
            </td>
          </tr>`,
        )}
        ${!batches.loading && rows.length === 0
          ? html`<tr><td colspan="4" class="muted">今日尚无批次。</td></tr>`
          : null}
      </tbody>
    </table>
  </section>`;
}

// --- The 24-hour box

const EMPTYING_LABELS = { done: '已开箱', missed: '已错过', upcoming: '待开箱' };
const OUTCOME_LABELS = {
  received: '已签收',
  unknown: '投递码无效',
  used: '重复扫描',
  withdrawn: '已取消投递',
  case_cancelled: '案件已撤回',
  other_department: '非本部门',
};
/** What the clerk does with an envelope a scan refused. */
const REFUSALS = {
  drop_code_unknown: (code) => `投递码 ${code} 无效：请核对是否输错；确认无误的信封请单独存放并登记。`,
  drop_code_used: (code) => `投递码 ${code} 已扫描签收过，本件原件已在中心，请勿重复登记。`,
  drop_code_withdrawn: (code) => `投递码 ${code} 的申请人已取消投递，请将信封单独存放，待申请人领回。`,
  drop_code_case_cancelled: (code) => `投递码 ${code} 的案件已撤回，请将信封单独存放，待申请人领回。`,
  drop_code_other_department: (code, err) => `投递码 ${code} 不属于您的部门：${err.message}`,
};

/** A key per envelope scanned: a retried request (a lost answer) is answered as the first. */
const scanKey = () =>
  (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`);

function DropBox() {
  const status = useLoad(() => get('/v1/reception/box'), [], 30000);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const box = status.data;

  const start = async () => {
    setError(null);
    setBusy(true);
    try {
      await post('/v1/reception/box-runs', {});
      await status.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return html`<section aria-labelledby="box-title">
    <div class="toolbar">
      <h1 id="box-title">投递箱</h1>
      <span class="grow"></span>
      ${box && !box.open_run
        ? html`<button type="button" class="primary" id="start-run" disabled=${busy} onClick=${start}>开始开箱</button>`
        : null}
    </div>
    <${ErrorBanner} error=${error || status.error} />
    ${box
      ? html`<p class="hint">${box.place}。今日开箱：${box.today.map(
          (e) => html`<span class=${'tag ' + (e.status === 'missed' ? 'warn' : '')} data-emptying=${e.time}>${e.time} ${EMPTYING_LABELS[e.status] || e.status}</span> `,
        )}　待投递 <strong id="box-waiting">${box.waiting}</strong> 件。</p>`
      : null}
    ${box && box.open_run
      ? html`<${Run} id=${box.open_run} onScanned=${status.reload} onClosed=${status.reload} />`
      : null}
    ${box && box.overdue.length ? html`<${Overdue} rows=${box.overdue} />` : null}
  </section>`;
}

/** An open emptying: the scan box, and every envelope scanned into it. */
function Run({ id, onScanned, onClosed }) {
  const run = useLoad(() => get(`/v1/reception/box-runs/${id}`), [id]);
  const input = useRef(null);
  const [value, setValue] = useState('');
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState(null);
  useEffect(() => input.current && input.current.focus(), []);
  const scans = (run.data && run.data.scans) || [];

  const scan = async (e) => {
    e.preventDefault();
    const code = value.trim();
    if (!code || busy) return;
    setBusy(true);
    setMessage(null);
    try {
      const got = await api('POST', `/v1/reception/box-runs/${id}/scans`, {
        json: { code },
        headers: { 'idempotency-key': scanKey() },
      });
      setMessage({
        kind: 'ok',
        text: html`已签收投递码 ${got.scan.code}：原件已到中心，请在<a href=${'#/reception/' + got.application_id}>到件待收</a>中核对。`,
      });
    } catch (err) {
      const say = REFUSALS[err.code];
      setMessage(say ? { kind: 'error', text: say(code, err) } : { kind: 'error', error: err });
    } finally {
      setBusy(false);
      setValue('');
      await Promise.all([run.reload(), onScanned()]);
      if (input.current) input.current.focus();
    }
  };

  const close = async () => {
    setBusy(true);
    try {
      await post(`/v1/reception/box-runs/${id}/close`, {});
      onClosed();
    } catch (err) {
      setMessage({ kind: 'error', error: err });
    } finally {
      setBusy(false);
    }
  };

  const received = scans.filter((s) => s.outcome === 'received').length;
  return html`<section class="panel" aria-labelledby="run-title">
    <div class="toolbar">
      <h2 id="run-title">本次开箱（${fmtTime(run.data && run.data.started_at)} 开始）</h2>
      <span class="grow"></span>
      <button type="button" id="close-run" disabled=${busy} onClick=${close}>结束开箱</button>
    </div>
    <form class="scan" onSubmit=${scan} role="search" aria-label="扫描投递码">
      <label for="scan-drop-code">扫描投递码</label>
      <div class="scan-row">
        <input id="scan-drop-code" class="mono" autocomplete="off" spellcheck="false" maxlength="64"
          ref=${input} value=${value} onInput=${(e) => setValue(e.target.value)}
          aria-describedby="drop-hint" />
        <button type="submit" disabled=${busy}>签收</button>
      </div>
      <p class="hint" id="drop-hint">扫描信封上的二维码，或输入 8 位投递码后按 Enter（大小写、空格和横线均可）。</p>
    </form>
    ${message && message.error ? html`<${ErrorBanner} error=${message.error} />` : null}
    ${message && !message.error
      ? html`<div class=${'alert alert-' + message.kind} role="alert" id="drop-result">${message.text}</div>`
      : null}
    <${ErrorBanner} error=${run.error} />
    <table class="grid box-scans">
      <caption>本次已扫描 ${scans.length} 封，签收 ${received} 封</caption>
      <thead><tr>
        <th scope="col">时间</th><th scope="col">扫描内容</th><th scope="col">结果</th><th scope="col">案件</th>
      </tr></thead>
      <tbody>
        ${scans.map(
          (s) => html`<tr>
            <td>${fmtTime(s.scanned_at)}</td>
            <td class="mono">${s.code || s.typed}</td>
            <td><span class=${'tag ' + (s.outcome === 'received' ? '' : 'warn')}>${OUTCOME_LABELS[s.outcome] || s.outcome}</span></td>
            <td>${s.application_id
              ? html`<a class="mono" href=${'#/reception/' + s.application_id}>${s.application_id.slice(0, 8)}…</a>`
              : '—'}</td>
          </tr>`,
        )}
        ${!run.loading && scans.length === 0 ? html`<tr><td colspan="4" class="muted">尚未扫描信封。</td></tr>` : null}
      </tbody>
    </table>
  </section>`;
}

/** Drops not found by their day: the citizen was reminded; reception may look out for them. */
function Overdue({ rows }) {
  return html`<section class="panel" aria-labelledby="overdue-title">
    <h2 id="overdue-title">逾期未投递（已提醒申请人）</h2>
    <table class="grid overdue">
      <thead><tr>
        <th scope="col">投递码</th><th scope="col">选择投递</th><th scope="col">应投递日期</th><th scope="col">提醒时间</th>
      </tr></thead>
      <tbody>
        ${rows.map(
          (d) => html`<tr>
            <td class="mono">${d.code}</td>
            <td>${fmtTime(d.chosen_at)}</td>
            <td>${fmtTime(d.drop_by)}</td>
            <td>${fmtTime(d.reminded_at)}</td>
          </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}
