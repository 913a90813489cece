export { ApiClient } from './api-client.js';
export { ATTACKS, type AttackContext, type AttackName, type AttackResult, runAttacks } from './attacks.js';
export { observationsFor, WARD_MIX } from './device-profiles.js';
export { createCsr, type DeviceCredentials, enrollOverEst } from './est-client.js';
export { MllpClient, type MllpClientOptions, readAck } from './mllp-client.js';
export { SimDevice } from './sim-device.js';
export { PatientModel, seededRandom } from './vitals-model.js';
export { registerAndEnroll, Ward, type WardOptions, type WardProgress, type WardTotals } from './ward.js';
export {
  simPayload,
  type WardDevice,
  type WardEvent,
  type WardTrafficOptions,
  wardDevices,
  wardTraffic,
} from './ward-traffic.js';
