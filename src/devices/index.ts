export {
  createDeviceService,
  type DeviceAudit,
  type DeviceService,
  type DeviceVisibility,
  setCertificateStatus,
  toDevice,
} from './device-service.js';
export { type DeviceSummary, EXPIRING_SOON_DAYS } from './device-summary.js';
export { deviceRoutes, visibilityOf } from './routes.js';
export {
  CERTIFICATE_STATUSES,
  DEVICE_TYPES,
  Device,
  DeviceCreate,
  DeviceId,
  type DeviceType,
  LIFECYCLES,
  type Lifecycle,
} from './schemas.js';
