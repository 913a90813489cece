import { createRoot } from 'react-dom/client';
import { hasSession, prefetch, rememberedPermissions, withQuery } from './api';
import { App } from './app';
import './styles.css';

// Returning to the overview in a tab with a session: ask for its data alongside GET /me, but only
// what the role may read (a refused request would be an audited denial).
if (hasSession() && location.pathname === '/') {
  const can = new Set(rememberedPermissions());
  if (can.has('devices:read')) prefetch('/api/v1/fleet/summary');
  if (can.has('alerts:read')) prefetch(withQuery('/api/v1/alerts', { state: 'open', limit: 500 }));
}

createRoot(document.getElementById('root')!).render(<App />);
