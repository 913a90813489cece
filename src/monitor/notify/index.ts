/** Notifications: signed webhooks and syslog/CEF through a durable outbox; the live SSE stream. */
export { cefExtensionValue, cefHeaderField, toCef } from './cef.js';
export {
  createNotifyService,
  type NotifyConfig,
  type NotifyDeps,
  type NotifyService,
} from './notify-service.js';
export { type DeadLetter, messageId, Outbox } from './outbox.js';
export { type AlertNotification, notificationOf } from './payload.js';
export { type NotifyRoutesDeps, notifyRoutes } from './routes.js';
export { type Route, routeMatches } from './routing.js';
export { type StreamEvent, StreamHub } from './stream.js';
export { alertToSyslog, SyslogConnection } from './syslog-target.js';
export { parseSecret, postWebhook, sign, verify } from './webhook.js';
