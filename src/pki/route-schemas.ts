import { Type as T } from '@sinclair/typebox';
import { DeviceId } from '../devices/index.js';
import { REVOCATION_REASONS } from './revocation-reason.js';

export const DeviceParams = T.Object({ id: DeviceId }, { additionalProperties: false });

const Serial = T.String({ pattern: '^[0-9a-fA-F]{2,40}$', description: 'Certificate serial, hex' });

export const EnrollmentTokenReply = T.Object(
  {
    deviceId: T.String(),
    token: T.String({ description: 'One-time enrollment token; shown only in this reply' }),
    expiresAt: T.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

export const RevokeBody = T.Object(
  {
    reason: T.Union(
      REVOCATION_REASONS.map((r) => T.Literal(r)),
      { description: 'RFC 5280 CRLReason' },
    ),
    serial: T.Optional(Serial),
  },
  { additionalProperties: false },
);

export const RevokeReply = T.Object(
  {
    deviceId: T.String(),
    revoked: T.Array(
      T.Object(
        { serial: T.String(), reason: T.String(), revokedAt: T.String({ format: 'date-time' }) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const CertificateView = T.Object(
  {
    serial: T.String(),
    deviceId: T.String(),
    subject: T.String(),
    status: T.Union([T.Literal('valid'), T.Literal('revoked'), T.Literal('superseded')]),
    notBefore: T.String({ format: 'date-time' }),
    notAfter: T.String({ format: 'date-time' }),
    issuedAt: T.String({ format: 'date-time' }),
    revokedAt: T.Union([T.String({ format: 'date-time' }), T.Null()]),
    revocationReason: T.Union([T.String(), T.Null()]),
    fingerprintSha256: T.String(),
    publicKeySha256: T.String(),
  },
  { additionalProperties: false },
);

export const CertificateList = T.Object({ items: T.Array(CertificateView) }, { additionalProperties: false });
