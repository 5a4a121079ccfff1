// The login form, on the login page and in the dialog that appears when a session ends.
// Each refusal says what happened in plain words: a wrong password, a locked account (and for
// how long), a disabled account.

import { html, useState, useRef, useEffect } from '../ui.js';
import { login } from '../api.js';

/** The clerk's words for a login refusal. */
export function loginMessage(error) {
  switch (error.code) {
    case 'invalid_credentials':
      return '用户名或密码不正确，请重新输入。';
    case 'account_locked': {
      const minutes = error.retryAfter ? Math.ceil(error.retryAfter / 60) : null;
      return minutes
        ? `登录失败次数过多，账号已暂时锁定。请 ${minutes} 分钟后再试，或联系管理员解锁。`
        : '登录失败次数过多，账号已暂时锁定。请稍后再试，或联系管理员解锁。';
    }
    case 'account_disabled':
      return '该账号已被停用，请联系管理员。';
    case 'rate_limited':
      return '登录请求过于频繁，请稍后再试。';
    default:
      return error.message;
  }
}

export function LoginForm({ onDone, username = '', fixedUser = false }) {
  const [user, setUser] = useState(username);
  const [password, setPassword] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const first = useRef(null);
  useEffect(() => first.current && first.current.focus(), []);

  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(user.trim(), password);
      setPassword('');
      onDone && onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return html`<form class="login-form" onSubmit=${submit}>
    ${error
      ? html`<div class="alert alert-error" role="alert" id="login-error">${loginMessage(error)}</div>`
      : null}
    <label for="login-user">用户名</label>
    <input id="login-user" name="username" autocomplete="username" required readOnly=${fixedUser}
      ref=${fixedUser ? null : first} value=${user} onInput=${(e) => setUser(e.target.value)} />
    <label for="login-password">密码</label>
    <input id="login-password" name="password" type="password" autocomplete="current-password" required
      ref=${fixedUser ? first : null} value=${password} onInput=${(e) => setPassword(e.target.value)} />
    <button type="submit" class="primary" disabled=${busy}>${busy ? '正在登录…' : '登录'}</button>
  </form>`;
}
