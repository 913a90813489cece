import { useState } from 'react';
import { api } from '../api';
import { checkInclusion, type InclusionCheck } from '../audit-verify';
import { LoadError, Loading, when } from '../components/status';
import { useApi, useDebounced, usePageTitle } from '../hooks';

interface Entry {
  seq: number;
  time: string;
  actor: { type: string; id?: string; name?: string; role?: string };
  action: string;
  resource?: { type: string; id?: string };
  outcome: string;
  reason?: string;
  code?: string;
  breakGlass?: boolean;
}
interface Checkpoint {
  origin: string;
  treeSize: number;
  rootHash: string;
  note: string;
  createdAt: string;
}
interface Verifier {
  name: string;
  publicKey: string;
  vkey: string;
}

function Verify({ entry }: { entry: Entry }) {
  const [result, setResult] = useState<InclusionCheck | { pending: string } | null>(null);
  const run = async () => {
    setResult({ pending: 'Checking…' });
    try {
      const [checkpoint, verifier] = await Promise.all([
        api<Checkpoint>('/api/v1/audit/checkpoint'),
        api<Verifier>('/api/v1/audit/verifier'),
      ]);
      if (entry.seq >= checkpoint.treeSize) {
        setResult({ pending: 'Not in a signed checkpoint yet; try again in a few seconds.' });
        return;
      }
      const proof = await api<{ leafIndex: number; treeSize: number; leafHash: string; proof: string[] }>(
        '/api/v1/audit/proof/inclusion',
        { query: { seq: entry.seq, treeSize: checkpoint.treeSize } },
      );
      setResult(await checkInclusion({ entry: { ...entry }, proof, checkpoint, verifier }));
    } catch (error) {
      setResult({ ok: false, steps: [`✗ ${(error as Error).message}`] });
    }
  };
  return (
    <>
      <button type="button" onClick={run} aria-label={`Verify entry ${entry.seq}`}>
        Verify
      </button>
      {result && 'pending' in result && <span className="muted"> {result.pending}</span>}
      {result && 'steps' in result && (
        <div className={result.ok ? 'verified' : 'failed'} role="status" data-testid={`verify-${entry.seq}`}>
          <strong>{result.ok ? 'Included in the signed log' : 'Verification failed'}</strong>
          <ul>
            {result.steps.map((s) => (
              <li key={s}>{s}</li>
            ))}
          </ul>
        </div>
      )}
    </>
  );
}

/** Audit log browser, newest first, with the latest checkpoint and in-browser proof checks. */
export default function Audit() {
  const heading = usePageTitle('Audit log');
  const [action, setAction] = useState('');
  const [outcome, setOutcome] = useState('');
  const [actor, setActor] = useState('');
  const [since, setSince] = useState('');
  const [before, setBefore] = useState<number | null>(null);
  const actionQ = useDebounced(action.trim(), 300);
  const actorQ = useDebounced(actor.trim(), 300);
  const validAction = /^[a-z][a-z0-9._-]*$/.test(actionQ) ? actionQ : '';
  const entries = useApi<{ entries: Entry[]; next?: number }>(
    '/api/v1/audit/entries',
    {
      order: 'desc',
      limit: 50,
      action: validAction,
      outcome,
      actor: actorQ,
      since: since ? new Date(since).toISOString() : '',
      before,
    },
    before === null ? 5000 : undefined,
  );
  const checkpoint = useApi<Checkpoint>('/api/v1/audit/checkpoint', {}, 10_000);
  const verifier = useApi<Verifier>('/api/v1/audit/verifier');
  const reset = (set: (v: string) => void) => (v: string) => {
    set(v);
    setBefore(null);
  };

  return (
    <>
      <h1 ref={heading} tabIndex={-1}>
        Audit log
      </h1>
      <section className="panel" aria-labelledby="checkpoint-title">
        <h2 id="checkpoint-title">Latest signed checkpoint</h2>
        {checkpoint.error && <LoadError error={checkpoint.error} what="The checkpoint" />}
        {checkpoint.data && (
          <dl>
            <dt>Origin</dt>
            <dd>{checkpoint.data.origin}</dd>
            <dt>Tree size</dt>
            <dd data-testid="tree-size">{checkpoint.data.treeSize}</dd>
            <dt>Root hash</dt>
            <dd>
              <code className="wrap">{checkpoint.data.rootHash}</code>
            </dd>
            <dt>Signed</dt>
            <dd>{when(checkpoint.data.createdAt)}</dd>
            {verifier.data && (
              <>
                <dt>Verifier key</dt>
                <dd>
                  <code className="wrap">{verifier.data.vkey}</code>
                </dd>
              </>
            )}
          </dl>
        )}
      </section>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter audit entries">
        <label>
          Action
          <input
            value={action}
            placeholder="e.g. device.create"
            onChange={(e) => reset(setAction)(e.target.value)}
          />
        </label>
        <label>
          Outcome
          <select value={outcome} onChange={(e) => reset(setOutcome)(e.target.value)}>
            <option value="">all</option>
            <option>success</option>
            <option>failure</option>
            <option>denied</option>
          </select>
        </label>
        <label>
          Actor id
          <input value={actor} onChange={(e) => reset(setActor)(e.target.value)} />
        </label>
        <label>
          Since
          <input type="datetime-local" value={since} onChange={(e) => reset(setSince)(e.target.value)} />
        </label>
      </form>
      {entries.error && !entries.data && <LoadError error={entries.error} what="Audit entries" />}
      {!entries.data && !entries.error && <Loading />}
      {entries.data && (
        <>
          <div className="scroll">
            <table data-testid="audit-entries">
              <thead>
                <tr>
                  <th scope="col" className="num">
                    #
                  </th>
                  <th scope="col">Time</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Action</th>
                  <th scope="col">Resource</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Proof</th>
                </tr>
              </thead>
              <tbody>
                {entries.data.entries.map((e) => (
                  <tr key={e.seq} data-action={e.action}>
                    <td className="num">{e.seq}</td>
                    <td>{when(e.time)}</td>
                    <td>
                      {e.actor.name ?? e.actor.type}
                      {e.actor.role ? ` (${e.actor.role})` : ''}
                      {e.breakGlass ? ' · break-glass' : ''}
                    </td>
                    <td>
                      <code>{e.action}</code>
                    </td>
                    <td>{e.resource ? `${e.resource.type} ${e.resource.id ?? ''}` : '—'}</td>
                    <td>
                      {e.outcome}
                      {e.code ? ` (${e.code})` : ''}
                    </td>
                    <td>{e.reason ?? ''}</td>
                    <td>
                      <Verify entry={e} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <nav className="pager" aria-label="Pages">
            <button type="button" disabled={before === null} onClick={() => setBefore(null)}>
              Newest
            </button>
            <button
              type="button"
              disabled={entries.data.next === undefined}
              onClick={() => setBefore(entries.data?.next ?? null)}
            >
              Older
            </button>
          </nav>
        </>
      )}
    </>
  );
}
