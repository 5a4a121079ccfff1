// The console's shell: who is logged in, the menu their roles open, the hash router, and the
// login dialog that appears over the current screen when a session ends mid-work (so a
// half-written decision stays on screen). Each screen is its own module, loaded when first used.

import { html, render, useState, useEffect, ROLE_LABELS } from './ui.js';
import * as session from './api.js';
import { LoginForm } from './screens/login.js';

const SCREENS = {
  review: { label: '预审', role: 'reviewer', module: './screens/review.js' },
  reception: { label: '收件', role: 'reception', module: './screens/reception.js' },
  department: { label: '审批', role: 'approver', module: './screens/department.js' },
  admin: { label: '管理', role: 'admin', module: './screens/admin.js' },
  dashboard: { label: '统计', role: null, module: './screens/dashboard.js' },
};

const allowed = (key) => {
  const s = SCREENS[key];
  return s && (!s.role || session.hasRole(s.role));
};

function currentRoute() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  return { screen: parts[0] || '', rest: parts.slice(1) };
}

/** Where a member lands: their first screen. */
function home() {
  return Object.keys(SCREENS).find(allowed) || 'dashboard';
}

export function go(path) {
  location.hash = '#/' + path;
}

function useRoute() {
  const [route, setRoute] = useState(currentRoute());
  useEffect(() => {
    const on = () => setRoute(currentRoute());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

const loaded = {};

function Screen({ name, rest }) {
  const [mod, setMod] = useState(loaded[name] || null);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (loaded[name]) {
      setMod(loaded[name]);
      return;
    }
    setMod(null);
    import(SCREENS[name].module).then(
      (m) => {
        loaded[name] = m;
        setMod(m);
      },
      (e) => setError(e),
    );
  }, [name]);
  if (error) return html`<p class="alert alert-error" role="alert">页面加载失败：${String(error.message || error)}</p>`;
  if (!mod) return html`<p class="muted" aria-busy="true">正在加载…</p>`;
  const View = mod.default;
  return html`<${View} rest=${rest} go=${go} />`;
}

function Shell() {
  const [who, setWho] = useState(session.me());
  const [relogin, setRelogin] = useState(false);
  const [booting, setBooting] = useState(!who);
  const route = useRoute();

  useEffect(() => {
    const off = session.subscribe((event) => {
      if (event === 'relogin') setRelogin(true);
      if (event === 'relogged') setRelogin(false);
      if (event === 'login' || event === 'relogged') setWho(session.me());
      if (event === 'logout') {
        setWho(null);
        setRelogin(false);
      }
    });
    if (!session.me()) session.resume().finally(() => setBooting(false));
    return off;
  }, []);

  useEffect(() => {
    const name = SCREENS[route.screen] ? SCREENS[route.screen].label : '';
    document.title = (name ? name + ' · ' : '') + '小蜜蜂箱 · 政务服务后台';
  }, [route.screen]);

  if (booting) return html`<main class="boot" aria-busy="true"><p>正在加载…</p></main>`;
  if (!who) {
    return html`<main class="login-page">
      <div class="login-card">
        <h1>小蜜蜂箱 · 政务服务后台</h1>
        <${LoginForm} onDone=${() => go(home())} />
      </div>
    </main>`;
  }

  const screen = allowed(route.screen) ? route.screen : null;
  if (!screen) {
    setTimeout(() => go(home()), 0);
  }
  return html`<div class="shell">
    <header class="topbar">
      <a class="brand" href="#/">小蜜蜂箱</a>
      <nav aria-label="主菜单">
        <ul>
          ${Object.entries(SCREENS)
            .filter(([key]) => allowed(key))
            .map(
              ([key, s]) => html`<li>
                <a href=${'#/' + key} aria-current=${key === screen ? 'page' : undefined}>${s.label}</a>
              </li>`,
            )}
        </ul>
      </nav>
      <div class="who">
        <span>${who.display_name}</span>
        <small>${who.roles.map((r) => ROLE_LABELS[r] || r).join('、')}</small>
        <button type="button" class="link" onClick=${() => session.logout().then(() => go(''))}>退出</button>
      </div>
    </header>
    <main id="main" class="content">
      ${screen ? html`<${Screen} name=${screen} rest=${route.rest} />` : null}
    </main>
    ${relogin
      ? html`<div class="modal-backdrop">
          <div class="modal" role="dialog" aria-modal="true" aria-labelledby="relogin-title">
            <h2 id="relogin-title">登录已失效，请重新登录</h2>
            <p class="muted">您正在处理的内容已保留，登录后可继续。</p>
            <${LoginForm} username=${who.username} fixedUser=${true} />
          </div>
        </div>`
      : null}
  </div>`;
}

render(html`<${Shell} />`, document.getElementById('app'));
