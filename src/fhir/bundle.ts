/** Searchset Bundles (R4 "bundle.html", "search.html#paging") with `self` and `next` links. */
import type { Bundle, BundleEntry, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { informationOutcome } from './operation-outcome.js';

/** The URL of a search: the base, the type and the accepted parameters (plus `_cursor` for next). */
export function searchUrl(
  base: string,
  resourceType: string,
  params: ReadonlyArray<[string, string]>,
  cursor?: string,
): string {
  const q = new URLSearchParams(params as Array<[string, string]>);
  if (cursor) q.set('_cursor', cursor);
  const text = q.toString();
  return `${base}/${resourceType}${text ? `?${text}` : ''}`;
}

/** Builds a searchset Bundle; ignored parameters (lenient handling) are reported as an outcome entry. */
export function searchset(input: {
  base: string;
  resourceType: string;
  accepted: ReadonlyArray<[string, string]>;
  resources: readonly Resource[];
  next?: string;
  ignored?: readonly string[];
  /** Why matching resources were left out by access policy (a care unit), if any were. */
  suppressed?: string;
}): Bundle {
  const entry: BundleEntry[] = input.resources.map((resource) => ({
    fullUrl: `${input.base}/${resource.resourceType}/${resource.id}`,
    resource,
    search: { mode: 'match' },
  }));
  if (input.ignored && input.ignored.length > 0) {
    const outcome: OperationOutcome = informationOutcome(
      input.ignored.map((p) => `parameter ${p} is not supported and was ignored`),
    );
    entry.push({ resource: outcome, search: { mode: 'outcome' } });
  }
  if (input.suppressed) {
    // IssueType `suppressed`: "not returned due to business rules, consent or privacy rules, or
    // access permission constraints" (R4 valueset-issue-type).
    const outcome: OperationOutcome = {
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'information', code: 'suppressed', diagnostics: input.suppressed }],
    };
    entry.push({ resource: outcome, search: { mode: 'outcome' } });
  }
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    link: [
      { relation: 'self', url: searchUrl(input.base, input.resourceType, input.accepted) },
      ...(input.next
        ? [{ relation: 'next', url: searchUrl(input.base, input.resourceType, input.accepted, input.next) }]
        : []),
    ],
    entry,
  };
}

/**
 * `JSON.stringify(searchset(input))` where the resources are already JSON text (`resources[i]`
 * serialised as `json[i]`): the page's resources are copied into the Bundle's text rather than
 * serialised again. A test holds it to the same text as searchset.
 */
export function searchsetJson(input: Parameters<typeof searchset>[0], json: readonly string[]): string {
  const { link, entry } = searchset({ ...input, resources: [] });
  const parts = input.resources.map(
    (resource, i) =>
      `{"fullUrl":${JSON.stringify(`${input.base}/${resource.resourceType}/${resource.id}`)},` +
      `"resource":${json[i]},"search":{"mode":"match"}}`,
  );
  for (const e of entry ?? []) parts.push(JSON.stringify(e));
  return `{"resourceType":"Bundle","type":"searchset","link":${JSON.stringify(link)},"entry":[${parts.join(',')}]}`;
}
