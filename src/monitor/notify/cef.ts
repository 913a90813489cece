import type { AlertEvent } from '../contracts.js';

/**
 * ArcSight Common Event Format ("Implementing ArcSight Common Event Format", HPE/Micro Focus, rev. 23):
 * `CEF:Version|Device Vendor|Device Product|Device Version|Device Event Class ID|Name|Severity|Extension`.
 * In the header, `\` and `|` are escaped with a backslash; in extension values `\` and `=` are,
 * and line breaks are written `\n` / `\r`. Keys are fixed ASCII names from the CEF dictionary
 * (custom strings cs1..cs6 carry a label).
 */
export function cefHeaderField(value: string): string {
  return value.replace(/[\\|]/g, (c) => `\\${c}`).replace(/[\r\n]+/g, ' ');
}

export function cefExtensionValue(value: string): string {
  return value
    .replace(/[\\=]/g, (c) => `\\${c}`)
    .replace(/\r\n|\n/g, '\\n')
    .replace(/\r/g, '\\r');
}

/** CEF severity 0-10 (0-3 low, 4-6 medium, 7-8 high, 9-10 very high). */
const SEVERITY: Readonly<Record<AlertEvent['severity'], number>> = {
  info: 1,
  low: 3,
  medium: 5,
  high: 8,
  critical: 10,
};

export function toCef(event: AlertEvent, version: string): string {
  const header = [
    'CEF:0',
    'Pulsegate',
    'Pulsegate',
    version,
    event.rule,
    event.title,
    String(SEVERITY[event.severity]),
  ].map((v, i) => (i === 0 ? v : cefHeaderField(v)));
  const ext: Array<[string, string | number | null]> = [
    ['rt', event.at],
    ['cat', event.category],
    ['externalId', event.alertId],
    ['deviceExternalId', event.deviceId],
    ['act', event.change],
    ['suser', event.actor],
    ['cnt', event.count],
    ['cs1Label', 'careUnit'],
    ['cs1', event.careUnit],
    ['cs2Label', 'state'],
    ['cs2', event.state],
    ['cs3Label', 'incidentId'],
    ['cs3', event.incidentId],
    ['cn1Label', 'escalationLevel'],
    ['cn1', event.escalationLevel],
  ];
  const extension = ext
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k}=${cefExtensionValue(String(v))}`)
    .join(' ');
  return `${header.join('|')}|${extension}`;
}
