import { join } from 'node:path';

/** Where everything lives inside a data directory. */
export function installationLayout(dataDir: string) {
  return {
    dataDir,
    config: join(dataDir, 'pulsegate.yaml'),
    secretsDir: join(dataDir, 'secrets'),
    pkiDir: join(dataDir, 'pki'),
    masterKey: join(dataDir, 'secrets', 'master.key'),
    adminToken: join(dataDir, 'secrets', 'admin.token'),
    adminPassword: join(dataDir, 'secrets', 'admin.password'),
    rootCaCert: join(dataDir, 'pki', 'ca.pem'),
    /** The audit checkpoint verifier key (signed-note vkey), kept outside the database. */
    auditVerifierKey: join(dataDir, 'pki', 'audit-verifier.vkey'),
    rootCaKey: join(dataDir, 'secrets', 'root-ca.key'),
    issuingCaCert: join(dataDir, 'pki', 'issuing-ca.pem'),
    issuingCaKey: join(dataDir, 'secrets', 'issuing-ca.key'),
    serverCert: join(dataDir, 'pki', 'server.pem'),
    serverKey: join(dataDir, 'secrets', 'server.key'),
  };
}

export type InstallationLayout = ReturnType<typeof installationLayout>;
