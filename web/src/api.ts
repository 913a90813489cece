/**
 * The console's only way to the API: same-origin fetch with the access token in the
 * Authorization header (never in a URL, never in a cookie, so no CSRF surface). The token lives
 * in memory and in sessionStorage (this tab only, gone when the tab closes).
 */
const KEY = 'pulsegate.session';
/** The caller's permissions from the last GET /me in this tab (not secret; used only to prefetch). */
const PERMISSIONS_KEY = 'pulsegate.permissions';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
  /** The route does not exist on this server (a capability that is not installed yet). */
  get unavailable(): boolean {
    return this.status === 404 && this.code === 'ROUTE_NOT_FOUND';
  }
}

let token: string | null = sessionStorage.getItem(KEY);
const logoutListeners = new Set<() => void>();

export function hasSession(): boolean {
  return token !== null;
}

export function setSession(accessToken: string | null): void {
  token = accessToken;
  if (accessToken) sessionStorage.setItem(KEY, accessToken);
  else {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(PERMISSIONS_KEY);
  }
}

export function onLogout(listener: () => void): () => void {
  logoutListeners.add(listener);
  return () => logoutListeners.delete(listener);
}

type Query = Record<string, string | number | undefined | null>;

/** Builds `/api/v1/…?a=b` from a query object, leaving out empty values. */
export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query))
    if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  const s = params.toString();
  return s ? `${path}?${s}` : path;
}

export async function api<T>(
  path: string,
  options: { method?: string; body?: unknown; query?: Query; signal?: AbortSignal } = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(withQuery(path, options.query), {
    method: options.method ?? 'GET',
    headers,
    body: options.body === undefined ? null : JSON.stringify(options.body),
    credentials: 'omit',
    cache: 'no-store',
    redirect: 'error',
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!response.ok) {
    const problem = (json ?? {}) as { code?: string; title?: string; detail?: string };
    const error = new ApiError(
      response.status,
      problem.code ?? `HTTP_${response.status}`,
      problem.detail ?? problem.title ?? `Request failed (${response.status})`,
    );
    if (response.status === 401 && token) {
      setSession(null);
      for (const l of logoutListeners) l();
    }
    throw error;
  }
  return json as T;
}

const prefetched = new Map<string, Promise<unknown>>();

/**
 * Starts a GET now (e.g. the overview's data while the session is being checked), so the first
 * screen needs one round trip, not two. A failure is reported to whoever takes it.
 */
export function rememberPermissions(permissions: string[]): void {
  sessionStorage.setItem(PERMISSIONS_KEY, JSON.stringify(permissions));
}

/** The permissions remembered for this tab, if any. */
export function rememberedPermissions(): string[] {
  try {
    const v = JSON.parse(sessionStorage.getItem(PERMISSIONS_KEY) ?? '[]') as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

export function prefetch(path: string): void {
  if (!token || prefetched.has(path)) return;
  const p = api(path);
  p.catch(() => {}); // handled by the taker; never an unhandled rejection
  prefetched.set(path, p);
}

/** The prefetched answer for `path`, once (later calls fetch afresh). */
export function takePrefetched<T>(path: string): Promise<T> | undefined {
  const p = prefetched.get(path);
  prefetched.delete(path);
  return p as Promise<T> | undefined;
}

/** What GET /api/v1/me says about the caller. */
export interface Me {
  kind: 'user' | 'client';
  id: string;
  name: string;
  role: string;
  careUnits: string[];
  permissions: string[];
}

export async function login(username: string, password: string): Promise<void> {
  const reply = await api<{ access_token: string }>('/api/v1/auth/login', {
    method: 'POST',
    body: { username, password },
  });
  setSession(reply.access_token);
}
