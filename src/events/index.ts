export { EventBus, type Listener } from './event-bus.js';
export type { EventName, IngestSource, PulsegateEvents } from './events.js';
