export {
  createDeviceService,
  type DeviceAudit,
  type DeviceService,
  type DeviceVisibility,
  setCertificateStatus,
  toDevice,
} from './device-service.js';
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
