import { type FormEvent, useEffect, useRef, useState } from 'react';
import { ApiError, login } from '../api';

export function Login({ onLoggedIn, notice }: { onLoggedIn: () => Promise<void>; notice: string | null }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => {
    document.title = 'Log in · Pulsegate';
    first.current?.focus();
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(username, password);
      setPassword('');
      await onLoggedIn();
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 429
          ? 'Too many attempts; wait a minute.'
          : err instanceof ApiError && err.status === 401
            ? 'Wrong user name or password.'
            : 'Could not log in.',
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" className="login">
      <form onSubmit={submit} className="panel" aria-labelledby="login-title">
        <h1 id="login-title">Pulsegate</h1>
        {notice && <p className="notice">{notice}</p>}
        <label>
          User name
          <input
            ref={first}
            name="username"
            autoComplete="username"
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            required
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </label>
        {error && (
          <p className="notice error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          Log in
        </button>
      </form>
    </main>
  );
}
