import type { Resource } from '@medplum/fhirtypes';

/**
 * A resource already serialised to its JSON wire form (UTF-8 bytes). A handler that has to wait
 * before it may answer (for its audit entry to be committed) serialises first: the page's objects
 * (decrypted readings, Observations) are then garbage before the wait instead of surviving it,
 * which with dozens of searches in flight moved most of them into the old generation; the bytes
 * live outside the JavaScript heap and are written to the socket as they are.
 */
export class FhirJson {
  readonly bytes: Buffer;
  /** A resource, or its JSON text already made. */
  constructor(resource: Resource | string) {
    this.bytes = Buffer.from(typeof resource === 'string' ? resource : JSON.stringify(resource));
  }
}

/** The JSON body of a handler's result: its bytes when already serialised. */
export function fhirJsonBody(body: unknown): string | Buffer {
  return body instanceof FhirJson ? body.bytes : JSON.stringify(body);
}
