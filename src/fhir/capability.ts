/**
 * The server's contract: the CapabilityStatement (R4 "capabilitystatement.html") generated from
 * the same resource table the router uses, so it lists exactly what is supported, and the SMART
 * configuration (SMART App Launch 2.x §"Conformance": `.well-known/smart-configuration`).
 */
import type { CapabilityStatement, CapabilityStatementRestResource } from '@medplum/fhirtypes';
import { AUDIT_EVENT_SEARCH } from './audit-event-api.js';
import { DEVICE_METRIC_SEARCH, DEVICE_SEARCH } from './device-api.js';
import { OBSERVATION_SEARCH } from './observation-api.js';
import { PATIENT_SEARCH } from './patient-api.js';
import type { ParamSpec } from './search-params.js';

type Interaction = 'read' | 'search-type' | 'create' | 'update';

/** Every resource type served, its interactions and search parameters. */
export const RESOURCES: ReadonlyArray<{
  type: string;
  interactions: readonly Interaction[];
  search: ParamSpec;
  profile?: string;
  documentation: string;
}> = [
  {
    type: 'Patient',
    interactions: ['read', 'search-type', 'create', 'update'],
    search: PATIENT_SEARCH,
    documentation:
      'Id is the hex blind index of the first identifier. Search needs exactly one identifier or _id; POST Patient/_search takes the identifier in a form body, and Bundle links name the patient by _id, never by identifier. Create/update by integration clients (ADT).',
  },
  {
    type: 'Observation',
    interactions: ['read', 'search-type', 'create'],
    search: OBSERVATION_SEARCH,
    profile: 'http://hl7.org/fhir/StructureDefinition/vitalsigns',
    documentation:
      'Device vital signs (LOINC and IEEE 11073 MDC codes, UCUM units). Create: one valueQuantity for a Patient from an inventory Device. _sort: -date (default) or date.',
  },
  {
    type: 'Device',
    interactions: ['read', 'search-type'],
    search: DEVICE_SEARCH,
    documentation: 'The inventory, read-only (managed through /api/v1/devices). location = care unit.',
  },
  {
    type: 'DeviceMetric',
    interactions: ['read', 'search-type'],
    search: DEVICE_METRIC_SEARCH,
    documentation: 'What each device measures. Search needs source=Device/[id].',
  },
  {
    type: 'AuditEvent',
    interactions: ['read', 'search-type'],
    search: AUDIT_EVENT_SEARCH,
    documentation:
      'The tamper-evident audit log in IHE BALP shape (its codes and agent/entity layout; no profile is claimed: entries never hold the query text).',
  },
];

const DEFINITIONS: Record<string, string> = {
  _lastUpdated: 'http://hl7.org/fhir/SearchParameter/Resource-lastUpdated',
  _id: 'http://hl7.org/fhir/SearchParameter/Resource-id',
};

function searchParams(spec: ParamSpec, type: string): CapabilityStatementRestResource['searchParam'] {
  return Object.entries(spec)
    .filter(([, t]) => t !== 'cursor' && t !== 'sort' && t !== 'number')
    .map(([name, t]) => ({
      name,
      type: t as 'token' | 'reference' | 'date',
      definition:
        DEFINITIONS[name] ??
        (type === 'Observation' && (name === 'patient' || name === 'date' || name === 'code')
          ? `http://hl7.org/fhir/SearchParameter/clinical-${name}`
          : `http://hl7.org/fhir/SearchParameter/${type}-${name}`),
      ...(type === 'Patient' && name === 'identifier'
        ? { documentation: 'Only in the form body of POST [base]/Patient/_search: no identifier in a URL' }
        : {}),
    }));
}

export function capabilityStatement(opts: {
  base: string;
  /** The OAuth token endpoint (SMART Backend Services). */
  tokenUrl: string;
  version: string;
  date: string;
}): CapabilityStatement {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: opts.date,
    publisher: 'Pulsegate',
    kind: 'instance',
    software: { name: 'Pulsegate', version: opts.version },
    implementation: { description: 'Pulsegate FHIR R4 API for device data', url: opts.base },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [
      {
        mode: 'server',
        documentation:
          'JSON only. Bearer tokens: SMART Backend Services (client_credentials, private_key_jwt RS384/ES384) or user tokens. Unknown search parameters are refused unless Prefer: handling=lenient.',
        security: {
          // SMART App Launch 2.x, "oauth-uris": clients that read the CapabilityStatement rather
          // than .well-known/smart-configuration find the token endpoint here. No authorize
          // endpoint: only client_credentials (Backend Services) is offered.
          extension: [
            {
              url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
              extension: [{ url: 'token', valueUri: opts.tokenUrl }],
            },
          ],
          cors: false,
          service: [
            {
              coding: [
                {
                  system: 'http://terminology.hl7.org/CodeSystem/restful-security-service',
                  code: 'SMART-on-FHIR',
                },
              ],
            },
          ],
          description: 'See .well-known/smart-configuration; SMART v2 scopes (system/, user/).',
        },
        resource: RESOURCES.map((r) => ({
          type: r.type as CapabilityStatementRestResource['type'],
          ...(r.profile ? { supportedProfile: [r.profile] } : {}),
          documentation: r.documentation,
          interaction: r.interactions.map((code) => ({ code })),
          versioning: r.type === 'Patient' ? ('versioned-update' as const) : ('no-version' as const),
          readHistory: false,
          updateCreate: r.type === 'Patient',
          searchParam: searchParams(r.search, r.type),
        })),
      },
    ],
  };
}

/** SMART configuration for backend services. */
export function smartConfiguration(publicUrl: string, algorithms: readonly string[]) {
  const issuer = publicUrl.replace(/\/+$/, '');
  return {
    issuer,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    token_endpoint: `${issuer}/oauth/token`,
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: [...algorithms],
    grant_types_supported: ['client_credentials'],
    scopes_supported: [
      ...RESOURCES.flatMap((r) => [`system/${r.type}.rs`, `user/${r.type}.rs`]),
      'system/Observation.c',
      'system/Patient.cu',
      'system/*.rs',
      'user/*.rs',
    ],
    response_types_supported: [],
    capabilities: ['client-confidential-asymmetric', 'permission-v2', 'permission-v1'],
  };
}
