import { randomBytes } from 'node:crypto';
import type { Store } from '../../store/index.js';

export interface OutboxMessage {
  id: string;
  target: string;
  kind: 'webhook' | 'syslog';
  payload: string;
  attempts: number;
  createdAt: number;
}

export interface DeadLetter extends OutboxMessage {
  lastError: string | null;
  deadAt: number;
}

/** A message id usable as `webhook-id`: no dots (Standard Webhooks), unguessable. */
export const messageId = () => `msg_${randomBytes(16).toString('base64url')}`;

/**
 * The durable outbox (table `notify_outbox`). Rows are written before any attempt; attempts claim
 * due rows with a lease (a conditional update, so two nodes never send the same row at once), and
 * a row leaves only when delivered. After the last attempt it stays as a dead letter until replayed.
 */
export class Outbox {
  readonly #store: Store;
  readonly #now: () => number;

  constructor(store: Store, now: () => number) {
    this.#store = store;
    this.#now = now;
  }

  async enqueue(messages: ReadonlyArray<Omit<OutboxMessage, 'attempts' | 'createdAt'>>): Promise<void> {
    if (messages.length === 0) return;
    const t = this.#now();
    await this.#store.db
      .insertInto('notify_outbox')
      .values(
        messages.map((m) => ({
          id: m.id,
          target: m.target,
          kind: m.kind,
          payload: m.payload,
          state: 'pending',
          attempts: 0,
          next_attempt_at: t,
          lease_until: 0,
          last_error: null,
          created_at: t,
          updated_at: t,
        })),
      )
      .execute();
  }

  /** Claims up to `limit` due rows for `leaseMs`, oldest first. */
  async claim(limit: number, leaseMs: number, targets: readonly string[]): Promise<OutboxMessage[]> {
    if (targets.length === 0) return [];
    const t = this.#now();
    const due = await this.#store.db
      .selectFrom('notify_outbox')
      .select(['id', 'target', 'kind', 'payload', 'attempts', 'created_at', 'lease_until'])
      .where('state', '=', 'pending')
      .where('next_attempt_at', '<=', t)
      .where('lease_until', '<=', t)
      .where('target', 'in', [...targets])
      .orderBy('next_attempt_at')
      .orderBy('created_at')
      .limit(limit)
      .execute();
    const claimed: OutboxMessage[] = [];
    for (const r of due) {
      const res = await this.#store.db
        .updateTable('notify_outbox')
        .set({ lease_until: t + leaseMs, updated_at: t })
        .where('id', '=', r.id)
        .where('state', '=', 'pending')
        .where('lease_until', '=', r.lease_until)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 1) {
        claimed.push({
          id: r.id,
          target: r.target,
          kind: r.kind as OutboxMessage['kind'],
          payload: r.payload,
          attempts: Number(r.attempts),
          createdAt: Number(r.created_at),
        });
      }
    }
    return claimed;
  }

  async delivered(id: string): Promise<void> {
    await this.#store.db.deleteFrom('notify_outbox').where('id', '=', id).execute();
  }

  /** Records a failed attempt: retry at `nextAt`, or dead-letter when `dead`. */
  async failed(
    id: string,
    attempts: number,
    reason: string,
    next: { dead: true } | { dead: false; at: number },
  ) {
    const t = this.#now();
    await this.#store.db
      .updateTable('notify_outbox')
      .set({
        attempts,
        last_error: reason.slice(0, 200),
        state: next.dead ? 'dead' : 'pending',
        next_attempt_at: Math.ceil(next.dead ? t : next.at),
        lease_until: 0,
        updated_at: t,
      })
      .where('id', '=', id)
      .execute();
  }

  async deadLetters(limit = 500): Promise<DeadLetter[]> {
    const rows = await this.#store.db
      .selectFrom('notify_outbox')
      .selectAll()
      .where('state', '=', 'dead')
      .orderBy('updated_at', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      target: r.target,
      kind: r.kind as OutboxMessage['kind'],
      payload: r.payload,
      attempts: Number(r.attempts),
      createdAt: Number(r.created_at),
      lastError: r.last_error,
      deadAt: Number(r.updated_at),
    }));
  }

  /** Puts a dead letter back in the queue with a fresh attempt budget; false when there is none. */
  async replay(id: string): Promise<boolean> {
    const t = this.#now();
    const res = await this.#store.db
      .updateTable('notify_outbox')
      .set({ state: 'pending', attempts: 0, next_attempt_at: t, lease_until: 0, updated_at: t })
      .where('id', '=', id)
      .where('state', '=', 'dead')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  /** Counts by state (for metrics and tests). */
  async counts(): Promise<Record<string, number>> {
    const rows = await this.#store.db
      .selectFrom('notify_outbox')
      .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('state')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
  }
}
