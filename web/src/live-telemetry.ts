import { useEffect, useState } from 'react';
import { ApiError, api } from './api';
import type { Point } from './components/chart';
import type { Observation, TelemetryPage } from './types';

const HOUR = 3_600_000;

export interface Series {
  key: string;
  label: string;
  unit: string;
  points: Point[];
}

export interface LiveTelemetry {
  series: Series[];
  alarms: TelemetryPage['alarms'];
  error: Error | undefined;
  updatedAt: number;
}

/**
 * The last hour of a device's observations, kept up to date by polling the telemetry API every
 * `intervalMs` for what arrived since the newest reading held (each read is authorised and
 * audited by the server; values never travel through the event stream).
 */
export function useLiveTelemetry(deviceIds: string[], enabled: boolean, intervalMs = 1500): LiveTelemetry {
  const [state, setState] = useState<LiveTelemetry>({
    series: [],
    alarms: [],
    error: undefined,
    updatedAt: 0,
  });
  const key = deviceIds.join(',');

  useEffect(() => {
    if (!enabled || !key) return;
    const ids = key.split(',');
    const abort = new AbortController();
    const seen = new Set<string>();
    const byKind = new Map<string, Series>();
    let alarms: TelemetryPage['alarms'] = [];
    let newest = Date.now() - HOUR;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const add = (o: Observation) => {
      const id = `${o.deviceId}|${o.seq}|${o.code.system}|${o.code.code}`;
      if (seen.has(id)) return;
      seen.add(id);
      const k = `${o.kind}|${o.unit}`;
      let s = byKind.get(k);
      if (!s) {
        s = { key: k, label: o.display, unit: o.unit, points: [] };
        byKind.set(k, s);
      }
      s.points.push({ t: Date.parse(o.time), v: o.value });
    };

    const poll = async () => {
      try {
        const from = new Date(newest).toISOString();
        const pages = await Promise.all(
          ids.map((id) =>
            api<TelemetryPage>(`/api/v1/devices/${encodeURIComponent(id)}/telemetry`, {
              query: { from, limit: 5000 },
              signal: abort.signal,
            }),
          ),
        );
        const cutoff = Date.now() - HOUR;
        for (const page of pages) {
          for (const o of page.observations) {
            add(o);
            newest = Math.max(newest, Date.parse(o.time));
          }
          alarms = [...page.alarms, ...alarms].slice(0, 20);
        }
        for (const s of byKind.values()) {
          s.points.sort((a, b) => a.t - b.t);
          const first = s.points.findIndex((p) => p.t >= cutoff);
          if (first > 0) s.points.splice(0, first);
        }
        setState({
          series: [...byKind.values()].map((s) => ({ ...s, points: [...s.points] })),
          alarms,
          error: undefined,
          updatedAt: Date.now(),
        });
      } catch (error) {
        if (abort.signal.aborted) return;
        setState((s) => ({ ...s, error: error as Error }));
        if (error instanceof ApiError && (error.status === 403 || error.status === 404)) return;
      }
      if (!abort.signal.aborted) timer = setTimeout(poll, intervalMs);
    };
    void poll();
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [key, enabled, intervalMs]);

  return state;
}

export function seriesTestId(s: Series): string {
  return `vital-${s.key.split('|')[0]}`;
}
