import type { IngestMessage, IngestOutcome, TelemetrySink } from './ports.js';

interface Pending {
  message: IngestMessage;
  resolve: (outcome: IngestOutcome) => void;
  reject: (error: unknown) => void;
}

/**
 * Collects messages from many connections for a moment (`maxWaitMs`) or up to `maxBatch`, then
 * hands them to the sink in one `ingest` call: one durable write serves many PUBACKs. Each
 * caller gets its own message's outcome; if the sink fails, every caller in that batch gets the
 * error, so nothing in it is acknowledged.
 */
export class IngestBatcher {
  readonly #sink: TelemetrySink;
  readonly #maxBatch: number;
  readonly #maxWaitMs: number;
  #pending: Pending[] = [];
  #timer: NodeJS.Timeout | null = null;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(opts: { sink: TelemetrySink; maxBatch?: number; maxWaitMs?: number }) {
    this.#sink = opts.sink;
    this.#maxBatch = opts.maxBatch ?? 500;
    this.#maxWaitMs = opts.maxWaitMs ?? 1;
  }

  /** Resolves with the message's outcome once its batch is durably stored (or refused). */
  submit(message: IngestMessage): Promise<IngestOutcome> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ message, resolve, reject });
      if (this.#pending.length >= this.#maxBatch) this.flush();
      else this.#timer ??= setTimeout(() => this.flush(), this.#maxWaitMs);
    });
  }

  /** Sends what is pending now. */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    const run = this.#sink
      .ingest(batch.map((p) => p.message))
      .then(
        (outcomes) => {
          batch.forEach((p, i) => {
            const outcome = outcomes[i];
            if (outcome) p.resolve(outcome);
            else p.reject(new Error('telemetry sink returned fewer outcomes than messages'));
          });
        },
        (error: unknown) => {
          for (const p of batch) p.reject(error);
        },
      )
      .finally(() => this.#inFlight.delete(run));
    this.#inFlight.add(run);
  }

  /** Flushes and waits for every batch already handed to the sink. */
  async drain(): Promise<void> {
    this.flush();
    await Promise.allSettled([...this.#inFlight]);
  }
}
