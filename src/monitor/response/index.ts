/** Response actions: quarantine and release a device (audited, with a reason). */
export {
  checkReason,
  createResponseActions,
  type QuarantineInput,
  type QuarantineResult,
  type ReleaseResult,
  type ResponseActions,
} from './quarantine.js';
export { responseRoutes } from './routes.js';
