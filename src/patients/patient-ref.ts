/**
 * A patient's reference: what URLs, FHIR Patient ids and API responses use instead of the patient
 * identifier. It is the hex form of the patient's blind index (an HMAC of the identifier, not the
 * identifier), so no MRN ever travels in a URL, a link or an access log.
 */

/** Blind index (base64url of 32 bytes) -> patient reference (64 hex digits). */
export function patientIdOf(blindIndex: string): string {
  return Buffer.from(blindIndex, 'base64url').toString('hex');
}

/** Patient reference -> blind index; undefined when it is not a reference. */
export function blindIndexOf(patientId: string): string | undefined {
  return /^[0-9a-f]{64}$/.test(patientId) ? Buffer.from(patientId, 'hex').toString('base64url') : undefined;
}
