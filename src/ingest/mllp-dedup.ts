import type { Store } from '../store/index.js';

interface Pending {
  row: { sender_id: string; control_id: string; received_at: number; observations: number };
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Remembers stored HL7 messages by (authenticated sender, MSH-10) in `hl7_messages`, so that a
 * resent message is acknowledged again without being stored twice. Records are group-committed
 * (one insert for everything that arrives within `lingerMs`), and `remember` resolves only after
 * the commit, so the AA that follows is backed by a durable record.
 */
export class Hl7Dedup {
  readonly #store: Store;
  readonly #lingerMs: number;
  #queue: Pending[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(store: Store, lingerMs = 1) {
    this.#store = store;
    this.#lingerMs = lingerMs;
  }

  /** True when the sender's message with this control id was stored before. */
  async seen(senderId: string, controlId: string): Promise<boolean> {
    const row = await this.#store.db
      .selectFrom('hl7_messages')
      .select('received_at')
      .where('sender_id', '=', senderId)
      .where('control_id', '=', controlId)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Records a stored message; resolves once the record is committed. */
  remember(senderId: string, controlId: string, observations: number, at: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({
        row: { sender_id: senderId, control_id: controlId, received_at: at, observations },
        resolve,
        reject,
      });
      if (this.#queue.length >= 500) this.#flush();
      else this.#timer ??= setTimeout(() => this.#flush(), this.#lingerMs);
    });
  }

  /** Forgets records older than `before` (Unix ms); returns how many. */
  async prune(before: number): Promise<number> {
    const r = await this.#store.db
      .deleteFrom('hl7_messages')
      .where('received_at', '<', before)
      .executeTakeFirst();
    return Number(r.numDeletedRows ?? 0);
  }

  async drain(): Promise<void> {
    this.#flush();
    await Promise.allSettled([...this.#inFlight]);
  }

  #flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#queue;
    if (batch.length === 0) return;
    this.#queue = [];
    // The same message may be recorded twice in one batch (a resend racing its original).
    const unique = new Map(batch.map((p) => [`${p.row.sender_id}\u0000${p.row.control_id}`, p.row]));
    const run = this.#store.db
      .insertInto('hl7_messages')
      .values([...unique.values()])
      .onConflict((oc) => oc.columns(['sender_id', 'control_id']).doNothing())
      .execute()
      .then(
        () => {
          for (const p of batch) p.resolve();
        },
        (error: unknown) => {
          for (const p of batch) p.reject(error);
        },
      )
      .finally(() => this.#inFlight.delete(run));
    this.#inFlight.add(run);
  }
}
