import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, api, takePrefetched, withQuery } from './api';

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | Error | undefined;
  loading: boolean;
  reload: () => void;
}

/**
 * GETs `path` (null = do nothing) and, with `intervalMs`, polls it; keeps the last good data
 * while a refresh is in flight. Requests are aborted when the component goes away.
 */
export function useApi<T>(
  path: string | null,
  query: Record<string, string | number | undefined | null> = {},
  intervalMs?: number,
): Loaded<T> {
  const key = path === null ? null : withQuery(path, query);
  const [state, setState] = useState<{ key: string | null; data?: T; error?: Error }>({ key: null });
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `tick` re-runs the effect on reload()
  useEffect(() => {
    if (key === null) return;
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const data = await (takePrefetched<T>(key) ?? api<T>(key, { signal: abort.signal }));
        if (abort.signal.aborted) return;
        setState({ key, data });
      } catch (error) {
        if (abort.signal.aborted) return;
        setState((s) => ({ key, ...(s.key === key ? { data: s.data } : {}), error: error as Error }));
        if (error instanceof ApiError && (error.unavailable || error.status === 403)) return;
      }
      if (intervalMs && !abort.signal.aborted) timer = setTimeout(load, intervalMs);
    };
    void load();
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [key, intervalMs, tick]);

  const current = state.key === key;
  return {
    data: current ? state.data : undefined,
    error: current ? state.error : undefined,
    loading: key !== null && (!current || (state.data === undefined && state.error === undefined)),
    reload,
  };
}

/** A value that follows `value` after it stopped changing for `ms` (search boxes). */
export function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

/** Sets document.title and moves focus to the page heading after client-side navigation. */
export function usePageTitle(title: string) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · Pulsegate`;
    ref.current?.focus();
  }, [title]);
  return ref;
}
