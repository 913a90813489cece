import type { EventName, PulsegateEvents } from './events.js';

export type Listener<E extends EventName> = (payload: PulsegateEvents[E]) => void;

/**
 * The in-process event bus: typed, synchronous fan-out. A listener that throws is isolated
 * (reported to `onError`) so one faulty subscriber cannot break ingest. Listeners that do slow
 * work must queue it themselves; the publisher is on the hot path.
 */
export class EventBus {
  readonly #listeners = new Map<EventName, Set<Listener<EventName>>>();
  readonly #onError: (error: unknown, event: EventName) => void;

  constructor(onError: (error: unknown, event: EventName) => void = () => {}) {
    this.#onError = onError;
  }

  /** Subscribes; returns a function that unsubscribes. */
  on<E extends EventName>(event: E, listener: Listener<E>): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as Listener<EventName>);
    return () => set.delete(listener as Listener<EventName>);
  }

  emit<E extends EventName>(event: E, payload: PulsegateEvents[E]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of set) {
      try {
        listener(payload);
      } catch (error) {
        this.#onError(error, event);
      }
    }
  }

  listenerCount(event: EventName): number {
    return this.#listeners.get(event)?.size ?? 0;
  }
}
