import { describe, expect, it } from 'vitest';
import { DEVICE_TYPES } from '../devices/index.js';
import { parseMessage } from '../telemetry/index.js';
import { observationsFor } from './device-profiles.js';
import { PatientModel } from './vitals-model.js';

describe('simulator profiles', () => {
  it('produce payloads the real telemetry parser accepts, for every device type, stable or deteriorating', () => {
    const now = Date.UTC(2026, 10, 23, 12);
    for (const type of DEVICE_TYPES) {
      for (const deteriorationPerHour of [0, 1000]) {
        const patient = new PatientModel({ seed: 9, deteriorationPerHour });
        for (let n = 0; n < 120; n++) {
          const t = now + n * 60_000;
          const payload = {
            seq: n,
            ts: new Date(t).toISOString(),
            observations: observationsFor(type, patient.at(t), n),
          };
          const result = parseMessage(Buffer.from(JSON.stringify(payload)), 'telemetry', t, 300_000);
          expect(result.ok, `${type} #${n}: ${JSON.stringify(result)}`).toBe(true);
        }
      }
    }
  });
});
