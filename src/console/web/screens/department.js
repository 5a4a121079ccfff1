// The department's desk: the cases their batches brought, longest waiting first; a case with
// its pages, the result files the department issues (attached, listed, removed before the
// decision), and the decision itself: approved, or refused with its reason.

import {
  html, useState, useRef, useLoad, ErrorBanner, Notice, Key, fmtTime, fmtDuration, stateLabel,
} from '../ui.js';
import { api, get, post } from '../api.js';
import { Viewer, Timeline, useMatters, departmentName, matterName } from './review.js';

export default function Department({ rest, go }) {
  return rest[0] ? html`<${Case} id=${rest[0]} go=${go} />` : html`<${Queue} />`;
}

function Queue() {
  const matters = useMatters();
  const queue = useLoad(() => get('/v1/department/queue', { limit: 200 }), [], 30000);
  const rows = (queue.data && queue.data.items) || [];
  const now = Date.now();

  return html`<section aria-labelledby="dept-title">
    <div class="toolbar"><h1 id="dept-title">部门审批</h1></div>
    <${ErrorBanner} error=${queue.error} />
    <table class="grid dept-queue">
      <caption class="sr-only">待部门审批的案件，等待最久的在前</caption>
      <thead><tr>
        <th scope="col">事项</th><th scope="col">申请人</th><th scope="col">部门</th>
        <th scope="col">收件时间</th><th scope="col">已等待</th>
      </tr></thead>
      <tbody>
        ${rows.map(
          (row) => html`<tr>
            <td><a href=${'#/department/' + row.id}>${matterName(matters, row.matter_code)}</a></td>
            <td>${row.applicant_name}</td>
            <td>${departmentName(matters, row.department_code)}</td>
            <td>${row.received_at ? fmtTime(row.received_at) : html`<span class="muted">无须原件</span>`}</td>
            <td>${fmtDuration((now - new Date(row.waiting_since)) / 1000)}</td>
          </tr>`,
        )}
        ${!queue.loading && rows.length === 0
          ? html`<tr><td colspan="5" class="muted">没有待审批的案件。</td></tr>`
          : null}
      </tbody>
    </table>
  </section>`;
}

const OUTCOMES = { approved: '准予批准', refused: '不予批准' };

function Case({ id }) {
  const loaded = useLoad(() => get(`/v1/department/applications/${id}`), [id]);
  const [notice, setNotice] = useState(null);
  const kase = loaded.data;
  if (loaded.error && !kase) {
    return html`<section><p><a href="#/department">← 返回审批列表</a></p><${ErrorBanner} error=${loaded.error} /></section>`;
  }
  if (!kase) return html`<p class="muted" aria-busy="true">正在加载案件…</p>`;
  const app = kase.application;
  const open = app.state === 'at_department' && !kase.decision;

  return html`<section class="case" aria-labelledby="case-title">
    <div class="toolbar">
      <a href="#/department">← 返回审批列表</a>
      <h1 id="case-title">${app.matter.name}</h1>
      <span class="tag">${stateLabel(app.state)}</span>
      ${app.filing ? html`<span class="tag bundle">一件事：${app.filing.bundle_name}</span>` : null}
      ${app.agent_filing ? html`<span class="tag bundle">代办：${app.agent_filing.service_point.name}</span>` : null}
    </div>
    ${notice ? html`<${Notice} kind="ok">${notice}<//>` : null}
    <div class="case-grid">
      <${Viewer} materials=${app.materials} />
      <aside class="side">
        <section class="panel" aria-labelledby="applicant-title">
          <h2 id="applicant-title">申请人</h2>
          <dl class="facts">
            <dt>姓名</dt><dd>${app.applicant.name}</dd>
            <dt>电话</dt><dd>${app.applicant.phone || '—'}</dd>
            <dt>证件号</dt><dd class="mono">${app.applicant.id_number || '—'}</dd>
            <dt>提交时间</dt><dd>${fmtTime(app.submitted_at)}</dd>
          </dl>
        </section>
        <${ResultFiles} id=${id} files=${kase.result_files} open=${open}
          onChange=${(files) => loaded.setData({ ...kase, result_files: files })} />
        ${open
          ? html`<${DecisionForm} id=${id} hasFiles=${kase.result_files.length > 0}
              onDecided=${(decided) => {
                setNotice(`已${OUTCOMES[decided.decision.outcome]}，案件状态：${stateLabel(decided.state)}。`);
                loaded.reload();
              }} />`
          : null}
        ${kase.decision
          ? html`<section class="panel" aria-labelledby="decided-title">
              <h2 id="decided-title">审批结果</h2>
              <p><strong>${OUTCOMES[kase.decision.outcome] || kase.decision.outcome}</strong> · ${fmtTime(kase.decision.created_at)}</p>
              ${kase.decision.note ? html`<p class="note">${kase.decision.note}</p>` : null}
            </section>`
          : null}
        <${Timeline} events=${kase.events} />
      </aside>
    </div>
  </section>`;
}

const fmtSize = (n) => (n >= 1048576 ? (n / 1048576).toFixed(1) + ' MB' : Math.max(1, Math.round(n / 1024)) + ' KB');

/** The files the department issued: attach (multipart field `file`), open, remove. */
function ResultFiles({ id, files, open, onChange }) {
  const input = useRef(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);

  const attach = async (e) => {
    const chosen = [...(e.target.files || [])];
    if (!chosen.length) return;
    setError(null);
    setBusy(true);
    let list = files;
    try {
      for (const file of chosen) {
        const form = new FormData();
        form.append('file', file, file.name);
        const created = await api('POST', `/v1/department/applications/${id}/results`, { form });
        list = [...list, created];
        onChange(list);
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
      if (input.current) input.current.value = '';
    }
  };

  const remove = async (file) => {
    setError(null);
    try {
      await api('DELETE', `/v1/department/applications/${id}/results/${file.id}`);
      onChange(files.filter((f) => f.id !== file.id));
    } catch (err) {
      setError(err);
    }
  };

  return html`<section class="panel result-files" aria-labelledby="results-title">
    <h2 id="results-title">结果文件</h2>
    <ul class="plain">
      ${files.map(
        (f, i) => html`<li class="result-file">
          ${f.url
            ? html`<a href=${f.url} target="_blank" rel="noopener noreferrer">${f.original_name || `结果文件 ${i + 1}`}</a>`
            : html`<span>${f.original_name || `结果文件 ${i + 1}`}</span>`}
          <small class="muted">${f.content_type === 'application/pdf' ? 'PDF' : '图片'} · ${fmtSize(f.size)}</small>
          ${open
            ? html`<button type="button" class="link" onClick=${() => remove(f)}
                aria-label=${`删除 ${f.original_name || `结果文件 ${i + 1}`}`}>删除</button>`
            : null}
        </li>`,
      )}
      ${files.length === 0 ? html`<li class="muted">尚未上传结果文件。</li>` : null}
    </ul>
    ${open
      ? html`<label for="result-file">上传结果文件（证照扫描件或 PDF）</label>
        <input id="result-file" type="file" ref=${input} disabled=${busy} multiple
          accept="image/jpeg,image/png,image/webp,image/heic,application/pdf" onChange=${attach} />
        ${busy ? html`<p class="muted" role="status">正在上传…</p>` : null}`
      : null}
    <${ErrorBanner} error=${error} onClose=${() => setError(null)} />
  </section>`;
}

function DecisionForm({ id, hasFiles, onDecided }) {
  const [outcome, setOutcome] = useState('');
  const [note, setNote] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e) => {
    if (e) e.preventDefault();
    setError(null);
    if (!outcome) return setError({ message: '请选择审批结论。' });
    if (outcome === 'refused' && !note.trim()) return setError({ message: '不予批准须写明原因。' });
    setBusy(true);
    try {
      const decided = await post(`/v1/department/applications/${id}/decision`, {
        outcome,
        note: note.trim() || undefined,
      });
      onDecided(decided);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const onKey = (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) submit(e);
  };

  return html`<section class="panel decision" aria-labelledby="dept-decision-title">
    <h2 id="dept-decision-title">审批结论</h2>
    <form onSubmit=${submit} onKeyDown=${onKey}>
      <fieldset class="outcomes">
        <legend class="sr-only">结论</legend>
        ${Object.entries(OUTCOMES).map(
          ([value, label]) => html`<label class="radio">
            <input type="radio" name="dept-outcome" value=${value} checked=${outcome === value}
              onChange=${() => {
                setOutcome(value);
                setError(null);
              }} /> ${label}
          </label>`,
        )}
      </fieldset>
      <label for="dept-note">${outcome === 'refused' ? '不予批准的原因（必填）' : '审批意见（可选，申请人可见）'}</label>
      <textarea id="dept-note" rows="3" maxlength="1000" value=${note} onInput=${(e) => setNote(e.target.value)}></textarea>
      ${outcome === 'approved' && !hasFiles
        ? html`<p class="alert alert-warn" role="status">尚未上传结果文件。</p>`
        : null}
      <${ErrorBanner} error=${error} />
      <button type="submit" class="primary" id="submit-dept-decision" disabled=${busy}>
        提交审批 <${Key} k="Ctrl+Enter" />
      </button>
    </form>
  </section>`;
}
