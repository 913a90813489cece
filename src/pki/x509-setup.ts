import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

// @peculiar/x509 uses WebCrypto; Node's implementation is complete for ECDSA P-256.
x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };
export const EC_P256: EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
export const SIGN_SHA256: EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
export const subtle = webcrypto.subtle;
