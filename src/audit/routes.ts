/**
 * HTTP: read the log, its latest signed checkpoint, proofs, and exports. Authentication and the
 * `audit:read` / `audit:export` permission checks happen in the HTTP layer from `config.access`.
 */

import type { KeyObject } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { PulsegateError } from '../errors.js';
import { requirePrincipal } from '../http/route-options.js';
import type { AuditCheckpoint, AuditLog } from './audit-log.js';
import { rawEd25519PublicKey, verifierKeyString } from './checkpoint.js';
import { ACTION_PATTERN } from './entry.js';
import { toFhirAuditEvent } from './fhir.js';
import { toSyslog } from './syslog.js';

const closed = { additionalProperties: false } as const;
const Outcome = Type.Union([Type.Literal('success'), Type.Literal('failure'), Type.Literal('denied')]);
const ActorType = Type.Union([
  Type.Literal('user'),
  Type.Literal('client'),
  Type.Literal('device'),
  Type.Literal('system'),
  Type.Literal('anonymous'),
]);
const Seq = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const Base64Hash = Type.String({ description: 'base64 SHA-256 hash' });

export const AuditEntrySchema = Type.Object(
  {
    seq: Seq,
    time: Type.String({ format: 'date-time' }),
    actor: Type.Object(
      {
        type: ActorType,
        id: Type.Optional(Type.String()),
        name: Type.Optional(Type.String()),
        role: Type.Optional(Type.String()),
      },
      closed,
    ),
    action: Type.String(),
    resource: Type.Optional(Type.Object({ type: Type.String(), id: Type.Optional(Type.String()) }, closed)),
    outcome: Outcome,
    reason: Type.Optional(Type.String()),
    code: Type.Optional(Type.String()),
    source: Type.Optional(Type.String()),
    breakGlass: Type.Optional(Type.Boolean()),
    requestId: Type.Optional(Type.String()),
  },
  closed,
);

const EntriesQuery = Type.Object(
  {
    after: Type.Optional(Type.Integer({ minimum: -1, maximum: Number.MAX_SAFE_INTEGER })),
    before: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')], { default: 'asc' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    actor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    action: Type.Optional(Type.String({ maxLength: 100, pattern: ACTION_PATTERN.source })),
    outcome: Type.Optional(Outcome),
    since: Type.Optional(Type.String({ format: 'date-time' })),
    until: Type.Optional(Type.String({ format: 'date-time' })),
  },
  closed,
);

const EntriesPage = Type.Object(
  {
    entries: Type.Array(AuditEntrySchema),
    next: Type.Optional(
      Type.Integer({ description: 'pass as `after` (or `before` with order=desc) for the next page' }),
    ),
  },
  closed,
);

const CheckpointSchema = Type.Object(
  {
    origin: Type.String(),
    treeSize: Seq,
    rootHash: Base64Hash,
    note: Type.String({ description: 'C2SP signed note (tlog-checkpoint body + Ed25519 signature line)' }),
    createdAt: Type.String({ format: 'date-time' }),
  },
  closed,
);

const VerifierSchema = Type.Object(
  {
    name: Type.String({ description: 'signed-note key name (the log origin)' }),
    publicKey: Type.String({ description: 'raw Ed25519 public key, base64' }),
    vkey: Type.String({ description: 'signed-note verifier key string (name+keyhash+base64(0x01||key))' }),
  },
  closed,
);

const InclusionQuery = Type.Object({ seq: Seq, treeSize: Type.Integer({ minimum: 1 }) }, closed);
const InclusionSchema = Type.Object(
  {
    leafIndex: Seq,
    treeSize: Seq,
    leafHash: Base64Hash,
    rootHash: Base64Hash,
    proof: Type.Array(Base64Hash),
  },
  closed,
);

const ConsistencyQuery = Type.Object({ first: Seq, second: Seq }, closed);
const ConsistencySchema = Type.Object(
  { first: Seq, second: Seq, firstRoot: Base64Hash, secondRoot: Base64Hash, proof: Type.Array(Base64Hash) },
  closed,
);

const ExportQuery = Type.Object(
  {
    format: Type.Union([Type.Literal('fhir'), Type.Literal('syslog')]),
    after: Type.Optional(Type.Integer({ minimum: -1, maximum: Number.MAX_SAFE_INTEGER })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  closed,
);

const FhirBundle = Type.Object(
  {
    resourceType: Type.Literal('Bundle'),
    type: Type.Literal('collection'),
    entry: Type.Array(Type.Object({ resource: Type.Object({}, { additionalProperties: true }) }, closed)),
  },
  closed,
);

const b64 = (b: Buffer): string => b.toString('base64');

function checkpointView(c: AuditCheckpoint): Static<typeof CheckpointSchema> {
  return {
    origin: c.origin,
    treeSize: c.treeSize,
    rootHash: b64(c.rootHash),
    note: c.note,
    createdAt: new Date(c.createdAt).toISOString(),
  };
}

/** The audit log's routes under /api/v1/audit. */
export function auditRoutes(deps: {
  audit: AuditLog;
  /** The checkpoint signing key, published so that clients (the console) can verify checkpoints. */
  verifier?: { name: string; publicKey: KeyObject };
}): FastifyPluginAsync {
  const { audit } = deps;
  /** Who read the audit log, and how much of it, is itself in the log (before the entries leave). */
  const auditRead = async (request: FastifyRequest, action: string, count: number) => {
    const p = requirePrincipal(request.principal);
    await audit.append({
      actor: { type: p.kind, id: p.id, name: p.name, role: p.role },
      action,
      resource: { type: 'audit-log' },
      outcome: 'success',
      reason: `${count} entries`,
      requestId: request.id,
      ...(p.breakGlass ? { breakGlass: true } : {}),
    });
  };
  return async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    const tags = ['audit'];

    app.get(
      '/api/v1/audit/entries',
      {
        config: { access: 'audit:read' },
        schema: {
          tags,
          summary: 'List audit entries',
          querystring: EntriesQuery,
          response: { 200: EntriesPage },
        },
      },
      async (request) => {
        const { after, before, order, limit = 100, ...filters } = request.query;
        const entries = await audit.list({
          ...filters,
          limit,
          ...(after === undefined ? {} : { after }),
          ...(before === undefined ? {} : { before }),
          newestFirst: order === 'desc',
        });
        await auditRead(request, 'audit.read', entries.length);
        const last = entries[entries.length - 1];
        return entries.length === limit && last ? { entries, next: last.seq } : { entries };
      },
    );

    app.get(
      '/api/v1/audit/checkpoint',
      {
        config: { access: 'audit:read' },
        schema: { tags, summary: 'The latest signed checkpoint', response: { 200: CheckpointSchema } },
      },
      async () => {
        const latest = await audit.latestCheckpoint();
        if (!latest) throw new PulsegateError('AUDIT_NO_CHECKPOINT');
        return checkpointView(latest);
      },
    );

    const verifier = deps.verifier;
    if (verifier) {
      app.get(
        '/api/v1/audit/verifier',
        {
          config: { access: 'audit:read' },
          schema: {
            tags,
            summary: 'The Ed25519 key that signs checkpoints (compare its vkey with a pinned copy)',
            response: { 200: VerifierSchema },
          },
        },
        async () => ({
          name: verifier.name,
          publicKey: rawEd25519PublicKey(verifier.publicKey).toString('base64'),
          vkey: verifierKeyString(verifier.name, verifier.publicKey),
        }),
      );
    }

    app.get(
      '/api/v1/audit/proof/inclusion',
      {
        config: { access: 'audit:read' },
        schema: {
          tags,
          summary: 'RFC 9162 inclusion proof of an entry in a tree size',
          querystring: InclusionQuery,
          response: { 200: InclusionSchema },
        },
      },
      async (request) => {
        const p = await audit.inclusionProof(request.query.seq, request.query.treeSize);
        return {
          leafIndex: p.leafIndex,
          treeSize: p.treeSize,
          leafHash: b64(p.leafHash),
          rootHash: b64(p.rootHash),
          proof: p.proof.map(b64),
        };
      },
    );

    app.get(
      '/api/v1/audit/proof/consistency',
      {
        config: { access: 'audit:read' },
        schema: {
          tags,
          summary: 'RFC 9162 consistency proof between two tree sizes',
          querystring: ConsistencyQuery,
          response: { 200: ConsistencySchema },
        },
      },
      async (request) => {
        const p = await audit.consistencyProof(request.query.first, request.query.second);
        return {
          first: p.first,
          second: p.second,
          firstRoot: b64(p.firstRoot),
          secondRoot: b64(p.secondRoot),
          proof: p.proof.map(b64),
        };
      },
    );

    app.get(
      '/api/v1/audit/export',
      {
        config: { access: 'audit:export' },
        schema: {
          tags,
          summary: 'Export entries as FHIR AuditEvents (Bundle) or RFC 5424 syslog lines',
          querystring: ExportQuery,
          response: {
            200: {
              content: {
                'application/fhir+json': { schema: FhirBundle },
                'text/plain': { schema: Type.String() },
              },
            },
          },
        },
      },
      async (request, reply) => {
        const { format, after, limit = 1000 } = request.query;
        const entries = await audit.list({ limit, ...(after === undefined ? {} : { after }) });
        await auditRead(request, 'audit.export', entries.length);
        if (format === 'fhir') {
          reply.type('application/fhir+json');
          return {
            resourceType: 'Bundle' as const,
            type: 'collection' as const,
            entry: entries.map((e) => ({
              resource: toFhirAuditEvent(e) as unknown as Record<string, never>,
            })),
          };
        }
        reply.type('text/plain; charset=utf-8');
        return entries.map((e) => `${toSyslog(e)}\n`).join('');
      },
    );
  };
}
