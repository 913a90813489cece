import { describe, expect, it } from 'vitest';
import { PatientModel, seededRandom } from './vitals-model.js';

describe('PatientModel', () => {
  it('is deterministic for a seed', () => {
    const a = new PatientModel({ seed: 7 });
    const b = new PatientModel({ seed: 7 });
    for (let t = 0; t < 3_600_000; t += 60_000) expect(a.at(t)).toEqual(b.at(t));
  });

  it('keeps a stable patient within normal ranges', () => {
    const p = new PatientModel({ seed: 3, deteriorationPerHour: 0 });
    for (let t = 0; t < 24 * 3_600_000; t += 300_000) {
      const v = p.at(t);
      expect(v.heartRate).toBeGreaterThan(40);
      expect(v.heartRate).toBeLessThan(120);
      expect(v.spo2).toBeGreaterThanOrEqual(93);
      expect(v.spo2).toBeLessThanOrEqual(100);
      expect(v.respiratoryRate).toBeGreaterThanOrEqual(9);
      expect(v.respiratoryRate).toBeLessThanOrEqual(22);
    }
  });

  it('deteriorates: heart and breathing rate up, SpO2 and pressure down, then recovers', () => {
    const p = new PatientModel({ seed: 11, deteriorationPerHour: 1000 });
    const start = p.at(0);
    let worst = start;
    let peak = 0;
    for (let t = 60_000; t < 60 * 60_000; t += 60_000) {
      const v = p.at(t);
      if (p.severity > peak) {
        peak = p.severity;
        worst = v;
      }
    }
    expect(peak).toBe(1);
    expect(worst.heartRate - start.heartRate).toBeGreaterThan(25);
    expect(worst.respiratoryRate - start.respiratoryRate).toBeGreaterThan(6);
    expect(start.spo2 - worst.spo2).toBeGreaterThan(4);
    expect(start.systolic - worst.systolic).toBeGreaterThan(20);
  });

  it('has a daily rhythm', () => {
    const p = new PatientModel({ seed: 5, deteriorationPerHour: 0 });
    const day = Date.UTC(2026, 10, 23);
    const mean = (hour: number) => {
      let sum = 0;
      for (let i = 0; i < 50; i++) sum += p.at(day + hour * 3_600_000 + i * 1000).heartRate;
      return sum / 50;
    };
    expect(mean(16)).toBeGreaterThan(mean(4) + 6);
  });

  it('seededRandom stays in [0, 1)', () => {
    const r = seededRandom(1);
    for (let i = 0; i < 10_000; i++) {
      const x = r();
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
  });
});
