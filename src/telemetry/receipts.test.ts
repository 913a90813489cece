import { afterEach, describe, expect, it } from 'vitest';
import { describeEachDialect } from '../testing/dialects.js';
import {
  deviceId,
  message,
  payload,
  snapshot,
  type TelemetryFixture,
  telemetryFixture,
} from './test-fixture.js';

/**
 * Receipts (IngestMessage.receipt, used by HL7 for sender + MSH-10): the messages of one receipt
 * are stored together with the receipt in one transaction, a held receipt is answered
 * TELEMETRY_DUPLICATE and stores nothing, also from another node, and a receipt whose messages
 * cannot all be stored stores none of them.
 */
describeEachDialect('telemetry: ingest receipts', (open) => {
  let fx: TelemetryFixture | undefined;
  afterEach(async () => {
    await fx?.cleanup();
    fx = undefined;
  });
  const withReceipt = (device: string, seq: number, id: string) => ({
    ...message(device, payload(seq)),
    source: 'hl7' as const,
    receipt: { sender: 'gw-1', id },
  });

  it('stores a receipt with its messages, answers a resend TELEMETRY_DUPLICATE and stores it once', async () => {
    fx = await telemetryFixture(open);
    const [a, b] = [deviceId(0), deviceId(1)];
    expect(await fx.telemetry.receiptHeld('gw-1', 'M1')).toBe(false);
    const first = await fx.telemetry.ingest([withReceipt(a, 1, 'M1'), withReceipt(b, 1, 'M1')]);
    expect(first.map((o) => o.ok)).toEqual([true, true]);
    expect(await fx.telemetry.receiptHeld('gw-1', 'M1')).toBe(true);
    expect(await fx.telemetry.receiptHeld('gw-2', 'M1')).toBe(false);
    const before = await snapshot(fx);
    // Another node sees the receipt in the database.
    const other = await fx.reopen();
    const again = await other.ingest([withReceipt(a, 2, 'M1'), withReceipt(b, 2, 'M1')]);
    expect(again).toEqual([
      { ok: false, code: 'TELEMETRY_DUPLICATE' },
      { ok: false, code: 'TELEMETRY_DUPLICATE' },
    ]);
    expect(await snapshot(fx)).toEqual(before);
    const rows = await fx.t.store.db.selectFrom('ingest_receipts').selectAll().execute();
    expect(rows.map((r) => [r.sender_id, r.message_id, Number(r.readings)])).toEqual([['gw-1', 'M1', 2]]);
  });

  it('stores none of a receipt when one of its messages is refused in sequence', async () => {
    fx = await telemetryFixture(open);
    const [a, b] = [deviceId(0), deviceId(1)];
    expect((await fx.telemetry.ingest([message(b, payload(5))]))[0]!.ok).toBe(true);
    const before = await snapshot(fx);
    const outcomes = await fx.telemetry.ingest([withReceipt(a, 1, 'M2'), withReceipt(b, 5, 'M2')]);
    expect(outcomes.map((o) => o.ok)).toEqual([false, false]);
    expect(await snapshot(fx)).toEqual(before);
    expect(await fx.telemetry.receiptHeld('gw-1', 'M2')).toBe(false);
    // The same message with good numbers is then stored whole.
    const retry = await fx.telemetry.ingest([withReceipt(a, 1, 'M2'), withReceipt(b, 6, 'M2')]);
    expect(retry.map((o) => o.ok)).toEqual([true, true]);
  });
});

describe('receipt batches', () => {
  it('keeps the messages of one receipt in one batch even at the batch limit', async () => {
    const { DIALECTS } = await import('../testing/stores.js');
    const fx = await telemetryFixture(DIALECTS[0]!.open, { maxBatch: 2 });
    try {
      const msgs = [
        message(deviceId(0), payload(1)),
        withR(deviceId(1), 1, 'M3'),
        withR(deviceId(2), 1, 'M3'),
      ];
      const outcomes = await fx.telemetry.ingest(msgs);
      expect(outcomes.map((o) => o.ok)).toEqual([true, true, true]);
    } finally {
      await fx.cleanup();
    }
    function withR(device: string, seq: number, id: string) {
      return { ...message(device, payload(seq)), receipt: { sender: 'gw-1', id } };
    }
  });
});
