/** What the FHIR handlers need, built once in the composition root (`createFhirApi`). */
import type { Principal, ResourceScope } from '../access/index.js';
import type { AuditEventInput, AuditLog } from '../audit/index.js';
import type { DeviceService } from '../devices/index.js';
import type { KeyService } from '../keys/index.js';
import type { PatientBindings } from '../patients/index.js';
import type { Store } from '../store/index.js';
import type { TelemetryService } from '../telemetry/index.js';

export interface FhirDeps {
  store: Store;
  keys: KeyService;
  audit: AuditLog;
  devices: DeviceService;
  patients: PatientBindings;
  telemetry: TelemetryService;
  access: { checkResource(principal: Principal, scope: ResourceScope): void };
  /** The server's external base URL (`server.publicUrl`); the FHIR base is `<publicUrl>/fhir`. */
  publicUrl: string;
  /** How far device clocks may be off (`telemetry.maxClockSkewSeconds`), for date prefilters. */
  maxClockSkewSeconds: number;
  version: string;
  now?: () => number;
}

/** Per-request facts every handler uses. */
export interface FhirRequest {
  principal: Principal;
  requestId: string;
  source: string;
  /** The FHIR base URL, e.g. `https://pulsegate.example/fhir`. */
  base: string;
  lenient: boolean;
  /** Names of the parameters that came in the URL (not a POST _search body): no PHI may be among them. */
  urlParams: ReadonlySet<string>;
}

/** The audit actor of a principal. */
export function actorOf(p: Principal): AuditEventInput['actor'] {
  return { type: p.kind, id: p.id, name: p.name, role: p.role };
}

/** Audit fields every FHIR access entry carries. */
export function auditBase(
  req: FhirRequest,
): Pick<AuditEventInput, 'actor' | 'outcome' | 'source' | 'requestId' | 'breakGlass'> {
  return {
    actor: actorOf(req.principal),
    outcome: 'success',
    source: req.source,
    requestId: req.requestId,
    ...(req.principal.breakGlass ? { breakGlass: true } : {}),
  };
}
