import { breakGlassActive, isCareUnitLimited, type Principal, type ResourceScope } from '../access/index.js';
import { PulsegateError } from '../errors.js';
import type { Binding } from './patient-bindings.js';

export interface PatientReachDeps {
  patients: { bindingsOfIndex(patientIndex: string): Promise<Binding[]> };
  devices: { getRow(id: string): Promise<{ id: string; care_unit: string | null }> };
  /** Where the patient's readings were taken (each reading keeps the care unit it was taken in). */
  telemetry: { recordedIn(patientIndex: string, careUnits: readonly string[]): Promise<boolean> };
  access: { checkResource(principal: Principal, scope: ResourceScope): void };
  now?: () => number;
}

/**
 * Whether a principal may touch a patient's data. Callers who see every care unit may (their role
 * decides); a care-unit limited caller (a clinician, a client registered for named units) reaches a
 * patient through a device bound to the patient now that is in one of its units now, or through a
 * reading of the patient taken in one of its units (the patient was cared for there), or under an
 * active break-glass session. A past binding alone does not reach: the device may since have moved
 * to another unit, whose staff never cared for that patient. A patient without any binding lies in
 * no unit, so it is out of a limited caller's reach: the same rule for reads and writes.
 */
export function patientReach(deps: PatientReachDeps) {
  const now = deps.now ?? Date.now;

  const sees = (principal: Principal) => !isCareUnitLimited(principal) || breakGlassActive(principal, now());

  /** True when the device of one of the bindings active now lies within the principal's care units. */
  async function throughDevices(principal: Principal, bindings: readonly Binding[]): Promise<boolean> {
    const t = now();
    const active = bindings.filter((b) => b.from <= t && (b.until === null || b.until > t));
    for (const deviceId of new Set(active.map((b) => b.deviceId))) {
      const device = await deps.devices.getRow(deviceId).catch(() => undefined);
      if (!device) continue;
      try {
        deps.access.checkResource(principal, { careUnit: device.care_unit, deviceId: device.id });
        return true;
      } catch (error) {
        if (!(error instanceof PulsegateError)) throw error;
      }
    }
    return false;
  }

  /** A limited caller's reach: an active binding in its units, or readings taken in its units. */
  async function throughCare(principal: Principal, patientIndex: string, bindings: readonly Binding[]) {
    return (
      (await throughDevices(principal, bindings)) ||
      deps.telemetry.recordedIn(patientIndex, principal.careUnits ?? [])
    );
  }

  async function reachable(principal: Principal, patientIndex: string): Promise<boolean> {
    return (
      sees(principal) ||
      throughCare(principal, patientIndex, await deps.patients.bindingsOfIndex(patientIndex))
    );
  }

  return {
    reachable,
    /** ACCESS_CARE_UNIT_DENIED unless `reachable` (reads, and changes to an existing patient). */
    async check(principal: Principal, patientIndex: string): Promise<void> {
      if (!(await reachable(principal, patientIndex))) throw new PulsegateError('ACCESS_CARE_UNIT_DENIED');
    },
    /**
     * Before a write that may create the patient: a patient Pulsegate does not know yet (no record,
     * no binding) belongs to no unit and may be created by any caller allowed to write; one it knows
     * is changed only by a caller who reaches it.
     */
    async checkWrite(principal: Principal, patientIndex: string, recorded: boolean): Promise<void> {
      if (sees(principal)) return;
      const bindings = await deps.patients.bindingsOfIndex(patientIndex);
      if (!recorded && bindings.length === 0) return;
      if (!(await throughCare(principal, patientIndex, bindings)))
        throw new PulsegateError('ACCESS_CARE_UNIT_DENIED');
    },
  };
}

export type PatientReach = ReturnType<typeof patientReach>;
