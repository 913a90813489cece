import { lazy, type ReactNode, Suspense, useCallback, useEffect, useState } from 'react';
import { api, hasSession, type Me, onLogout, rememberPermissions, setSession } from './api';
import { Loading } from './components/status';
import { Login } from './pages/login';
import { Overview } from './pages/overview';
import { Link, match, navigate, usePath } from './router';
import { SessionContext } from './session';

// Heavier pages are separate chunks, loaded on first visit (the initial bundle stays small).
const Inventory = lazy(() => import('./pages/inventory'));
const DevicePage = lazy(() => import('./pages/device'));
const AddDevice = lazy(() => import('./pages/add-device'));
const Triage = lazy(() => import('./pages/triage'));
const PatientPage = lazy(() => import('./pages/patient'));
const Alerts = lazy(() => import('./pages/alerts'));
const AlertPage = lazy(() => import('./pages/alert'));
const Incidents = lazy(() => import('./pages/incidents'));
const IncidentPage = lazy(() => import('./pages/incident'));
const Audit = lazy(() => import('./pages/audit'));

interface RouteDef {
  pattern: string;
  permission: string;
  render: (p: Record<string, string>) => ReactNode;
}

const ROUTES: RouteDef[] = [
  { pattern: '/', permission: 'devices:read', render: () => <Overview /> },
  { pattern: '/devices', permission: 'devices:read', render: () => <Inventory /> },
  { pattern: '/devices/new', permission: 'devices:write', render: () => <AddDevice /> },
  { pattern: '/devices/:id', permission: 'devices:read', render: (p) => <DevicePage id={p.id!} /> },
  { pattern: '/triage', permission: 'patients:read', render: () => <Triage /> },
  {
    pattern: '/triage/patient/:deviceId',
    permission: 'patients:read',
    render: (p) => <PatientPage deviceId={p.deviceId!} />,
  },
  { pattern: '/alerts', permission: 'alerts:read', render: () => <Alerts /> },
  { pattern: '/alerts/:id', permission: 'alerts:read', render: (p) => <AlertPage id={p.id!} /> },
  { pattern: '/incidents', permission: 'alerts:read', render: () => <Incidents /> },
  { pattern: '/incidents/:id', permission: 'alerts:read', render: (p) => <IncidentPage id={p.id!} /> },
  { pattern: '/audit', permission: 'audit:read', render: () => <Audit /> },
];

/** The navigation: each entry only for roles that hold its permission (the API enforces it anyway). */
const NAV = [
  { to: '/', label: 'Overview', permission: 'devices:read' },
  { to: '/devices', label: 'Devices', permission: 'devices:read' },
  { to: '/triage', label: 'Triage', permission: 'patients:read' },
  { to: '/alerts', label: 'Alerts', permission: 'alerts:read' },
  { to: '/incidents', label: 'Incidents', permission: 'alerts:read' },
  { to: '/audit', label: 'Audit', permission: 'audit:read' },
];

/** Replaces the current entry with `to` once rendered (navigation is a side effect, not render work). */
function Redirect({ to }: { to: string }) {
  useEffect(() => {
    if (location.pathname !== to) navigate(to, { replace: true });
  }, [to]);
  return <Loading />;
}

function homeFor(me: Me): string {
  return NAV.find((n) => me.permissions.includes(n.permission))?.to ?? '/';
}

export function App() {
  const path = usePath();
  const [me, setMe] = useState<Me | null>(null);
  const [checking, setChecking] = useState(hasSession());
  const [notice, setNotice] = useState<string | null>(null);

  const loadMe = useCallback(async () => {
    try {
      const me = await api<Me>('/api/v1/me');
      rememberPermissions(me.permissions);
      setMe(me);
    } catch {
      setSession(null);
      setMe(null);
    } finally {
      setChecking(false);
    }
  }, []);

  useEffect(() => {
    if (hasSession()) void loadMe();
  }, [loadMe]);

  useEffect(
    () =>
      onLogout(() => {
        setMe(null);
        setNotice('Your session ended. Please log in again.');
      }),
    [],
  );

  const logout = useCallback(() => {
    setSession(null);
    setMe(null);
    setNotice(null);
    navigate('/login');
  }, []);

  if (checking) return <Loading />;
  if (!me)
    return (
      <Login
        notice={notice}
        onLoggedIn={async () => {
          setNotice(null);
          setChecking(true);
          await loadMe();
          if (path === '/login') navigate('/', { replace: true });
        }}
      />
    );

  const found = ROUTES.map((r) => ({ r, params: match(r.pattern, path) })).find((x) => x.params !== null);
  let content: ReactNode;
  if (path === '/login' || (found && path === '/' && !me.permissions.includes('devices:read'))) {
    content = <Redirect to={homeFor(me)} />;
  } else if (!found) content = <p className="notice">No such page.</p>;
  else if (!me.permissions.includes(found.r.permission))
    content = <p className="notice">Your role ({me.role}) may not open this page.</p>;
  else content = found.r.render(found.params!);

  return (
    <SessionContext.Provider value={{ me, logout }}>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Pulsegate</span>
        <nav aria-label="Main">
          <ul>
            {NAV.filter((n) => me.permissions.includes(n.permission)).map((n) => {
              const current = n.to === '/' ? path === '/' : path === n.to || path.startsWith(`${n.to}/`);
              return (
                <li key={n.to}>
                  <Link to={n.to} aria-current={current ? 'page' : undefined}>
                    {n.label}
                  </Link>
                </li>
              );
            })}
          </ul>
        </nav>
        <div className="who">
          <span data-testid="who">
            {me.name} · {me.role}
            {me.careUnits.length ? ` · ${me.careUnits.join(', ')}` : ''}
          </span>
          <button type="button" onClick={logout}>
            Log out
          </button>
        </div>
      </header>
      <main id="main">
        <Suspense fallback={<Loading />}>{content}</Suspense>
      </main>
    </SessionContext.Provider>
  );
}
