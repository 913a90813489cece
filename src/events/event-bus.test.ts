import { describe, expect, it } from 'vitest';
import { EventBus } from './event-bus.js';

describe('EventBus', () => {
  it('delivers typed payloads to every listener and stops after unsubscribe', () => {
    const bus = new EventBus();
    const seen: string[] = [];
    const off = bus.on('certificate.revoked', (e) => seen.push(`a:${e.deviceId}`));
    bus.on('certificate.revoked', (e) => seen.push(`b:${e.serial}`));
    bus.emit('certificate.revoked', { deviceId: 'd1', serial: '01', reason: 'keyCompromise', at: 1 });
    off();
    bus.emit('certificate.revoked', { deviceId: 'd2', serial: '02', reason: 'keyCompromise', at: 2 });
    expect(seen).toEqual(['a:d1', 'b:01', 'b:02']);
  });

  it('isolates a throwing listener and reports it', () => {
    const errors: string[] = [];
    const bus = new EventBus((_e, name) => errors.push(name));
    let delivered = 0;
    bus.on('device.changed', () => {
      throw new Error('boom');
    });
    bus.on('device.changed', () => delivered++);
    bus.emit('device.changed', { deviceId: 'd', change: 'x', at: 0 });
    expect(delivered).toBe(1);
    expect(errors).toEqual(['device.changed']);
  });
});
