// The dashboard ("e导通" heat map): when citizens file (weekday × hour), which items most, what
// waits at each desk now, how long each stage takes (median and p90), and which materials come
// back most and why (which guidance to fix). Every figure is about my departments only.

import { html, useState, useLoad, ErrorBanner, fmtDuration } from '../ui.js';
import { get, me } from '../api.js';
import { useMatters, departmentName } from './review.js';

const WEEKDAYS = ['周一', '周二', '周三', '周四', '周五', '周六', '周日'];
const STAGES = {
  prereview: '提交 → 预审结论',
  pickup: '预审通过 → 快递取件',
  transit: '取件 → 收件核对',
  department: '收件 → 部门决定',
  delivery: '部门决定 → 结果送达',
};
const LOAD_COLUMNS = [
  ['waiting', '待预审'],
  ['claimed', '预审中'],
  ['overdue', '预审超时'],
  ['in_transit', '原件在途'],
  ['at_reception', '待收件'],
  ['awaiting_dispatch', '待送部门'],
  ['at_department', '部门审批中'],
];

// No dates until the clerk picks some: the service then counts its default period in the
// centre's calendar, which a browser's own date (in its time zone) can be a day off from.
const NO_PERIOD = { from: '', to: '' };

export default function Dashboard() {
  const [picked, setPicked] = useState(NO_PERIOD);
  const [department, setDepartment] = useState('');
  const query = { ...picked, department };
  const deps = [picked.from, picked.to, department];
  const filings = useLoad(() => get('/v1/stats/filings', query), deps);
  const workload = useLoad(() => get('/v1/stats/workload', { department }), [department]);
  const stages = useLoad(() => get('/v1/stats/stages', query), deps);
  const returns = useLoad(() => get('/v1/stats/returns', query), deps);
  const points = useLoad(() => get('/v1/stats/service-points', query), deps);
  const departments = me().departments;
  const matters = useMatters();
  // The period shown: as picked, else as the service answered.
  const shown = picked.to ? picked : filings.data ? { from: filings.data.from, to: filings.data.to } : NO_PERIOD;

  return html`<section aria-labelledby="dash-title">
    <div class="toolbar">
      <h1 id="dash-title">统计</h1>
    </div>
    <form class="filters" onSubmit=${(e) => e.preventDefault()} aria-label="统计范围">
      <label>开始日期
        <input type="date" value=${shown.from} max=${shown.to}
          onChange=${(e) => e.target.value && setPicked({ ...shown, from: e.target.value })} />
      </label>
      <label>结束日期
        <input type="date" value=${shown.to} min=${shown.from}
          onChange=${(e) => e.target.value && setPicked({ ...shown, to: e.target.value })} />
      </label>
      ${departments.length > 1 || departments.length === 0
        ? html`<label>部门
            <select value=${department} onChange=${(e) => setDepartment(e.target.value)}>
              <option value="">${departments.length ? '我的全部部门' : '全部部门'}</option>
              ${departments.map((d) => html`<option value=${d}>${departmentName(matters, d)}</option>`)}
            </select>
          </label>`
        : null}
    </form>
    <div class="cards heat-row">
      <${Heatmap} load=${filings} />
      <${TopMatters} load=${filings} />
    </div>
    <${WorkloadTable} load=${workload} name=${(code) => departmentName(matters, code)} />
    <div class="cards">
      <${Stages} load=${stages} />
    </div>
    <${Returns} load=${returns} />
    <${ServicePoints} load=${points} />
  </section>`;
}

function Panel({ id, title, load, children }) {
  return html`<section class="panel" aria-labelledby=${id}>
    <h2 id=${id}>${title}</h2>
    <${ErrorBanner} error=${load.error} />
    ${load.data ? children(load.data) : load.loading ? html`<p class="muted">正在加载…</p>` : null}
  </section>`;
}

/** Shades from light to dark; text turns white on the dark ones so it stays readable. */
function shade(count, max) {
  if (!count) return { cls: 'heat-0' };
  const level = Math.min(5, 1 + Math.floor((count / max) * 5));
  return { cls: 'heat-' + level };
}

function Heatmap({ load }) {
  return html`<${Panel} id="heat-title" title="申报热力图（星期 × 小时）" load=${load}>
    ${(data) => {
      const max = Math.max(1, ...data.cells.map((c) => c.count));
      const at = (w, h) => data.cells.find((c) => c.weekday === w && c.hour === h) || { count: 0 };
      return html`<p class="muted">${data.from} 至 ${data.to}，共 ${data.total} 件首次申报。</p>
        <div class="heat-scroll" tabindex="0" role="region" aria-label="申报热力图">
          <table class="heatmap">
            <caption class="sr-only">每个星期几、每个小时的首次申报件数</caption>
            <thead><tr><th scope="col"><span class="sr-only">星期</span></th>
              ${Array.from({ length: 24 }, (_, h) => html`<th scope="col">${h}</th>`)}</tr></thead>
            <tbody>
              ${WEEKDAYS.map(
                (name, i) => html`<tr><th scope="row">${name}</th>
                  ${Array.from({ length: 24 }, (_, h) => {
                    const c = at(i + 1, h);
                    return html`<td class=${shade(c.count, max).cls} title=${`${name} ${h}时：${c.count} 件`}>
                      ${c.count || ''}</td>`;
                  })}</tr>`,
              )}
            </tbody>
          </table>
        </div>`;
    }}
  <//>`;
}

function TopMatters({ load }) {
  return html`<${Panel} id="top-title" title="高频事项" load=${load}>
    ${(data) =>
      data.top_matters.length
        ? html`<ol class="bars">
            ${data.top_matters.map((m) => {
              const pct = Math.round((m.count / data.top_matters[0].count) * 100);
              return html`<li>
                <span class="bar-label">${m.matter_name}</span>
                <span class="bar" style=${`width: ${pct}%`}></span>
                <span class="bar-value">${m.count}</span>
              </li>`;
            })}
          </ol>`
        : html`<p class="muted">该期间没有申报。</p>`}
  <//>`;
}

function WorkloadTable({ load, name }) {
  return html`<${Panel} id="load-title" title="各部门当前积压" load=${load}>
    ${(data) => html`<table class="grid">
      <caption class="sr-only">各部门各环节当前等待的件数</caption>
      <thead><tr><th scope="col">部门</th>${LOAD_COLUMNS.map(([, label]) => html`<th scope="col">${label}</th>`)}</tr></thead>
      <tbody>
        ${data.departments.map(
          (d) => html`<tr><th scope="row">${name(d.department_code)}</th>
            ${LOAD_COLUMNS.map(([key]) => html`<td class=${key === 'overdue' && d.load[key] ? 'bad' : ''}>${d.load[key]}</td>`)}</tr>`,
        )}
        <tr class="total"><th scope="row">合计</th>
          ${LOAD_COLUMNS.map(([key]) => html`<td>${data.total[key]}</td>`)}</tr>
      </tbody>
    </table>`}
  <//>`;
}

function Stages({ load }) {
  return html`<${Panel} id="stages-title" title="各环节用时" load=${load}>
    ${(data) => html`<table class="grid">
      <caption class="sr-only">各环节用时的中位数与90分位数</caption>
      <thead><tr><th scope="col">环节</th><th scope="col">件数</th><th scope="col">中位数</th><th scope="col">90分位</th></tr></thead>
      <tbody>
        ${data.stages.map(
          (s) => html`<tr><th scope="row">${STAGES[s.stage] || s.stage}</th><td>${s.count}</td>
            <td>${s.count ? fmtDuration(s.median_secs) : '—'}</td><td>${s.count ? fmtDuration(s.p90_secs) : '—'}</td></tr>`,
        )}
      </tbody>
    </table>`}
  <//>`;
}

function Returns({ load }) {
  return html`<${Panel} id="returns-title" title="材料退回率（该改哪份指引）" load=${load}>
    ${(data) =>
      data.items.length
        ? html`<table class="grid">
            <caption class="sr-only">每份材料的预审退回次数、退回率和最常见的原因</caption>
            <thead><tr><th scope="col">事项</th><th scope="col">材料</th><th scope="col">预审次数</th>
              <th scope="col">退回次数</th><th scope="col">退回率</th><th scope="col">常见原因</th></tr></thead>
            <tbody>
              ${data.items.map(
                (r) => html`<tr>
                  <td>${r.matter_name}</td><td>${r.material_name}</td><td>${r.decisions}</td><td>${r.returns}</td>
                  <td>${(r.return_rate * 100).toFixed(1)}%</td>
                  <td>${r.top_reasons.map((t) => html`<div>${t.reason}（${t.count}）</div>`)}</td>
                </tr>`,
              )}
            </tbody>
          </table>`
        : html`<p class="muted">该期间没有预审记录。</p>`}
  <//>`;
}

function ServicePoints({ load }) {
  return html`<${Panel} id="points-title" title="代办点申报" load=${load}>
    ${(data) =>
      data.items.length
        ? html`<table class="grid">
            <caption class="sr-only">各村级代办点代办员首次申报的件数</caption>
            <thead><tr><th scope="col">代办点</th><th scope="col">申报件数</th></tr></thead>
            <tbody>
              ${data.items.map(
                (p) => html`<tr><th scope="row">${p.name}</th><td>${p.filings}</td></tr>`,
              )}
              <tr class="total"><th scope="row">合计</th><td>${data.total}</td></tr>
            </tbody>
          </table>`
        : html`<p class="muted">该期间没有代办申报。</p>`}
  <//>`;
}
