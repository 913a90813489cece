import { type FormEvent, type ReactNode, useEffect, useRef, useState } from 'react';

/**
 * A modal asking for a reason before an audited action. Uses the native <dialog> (focus is
 * trapped and Escape cancels without extra code).
 */
export function ReasonDialog({
  open,
  title,
  confirm,
  onConfirm,
  onClose,
  required = true,
  text = true,
  children,
}: {
  open: boolean;
  title: string;
  confirm: string;
  onConfirm: (reason: string) => Promise<void>;
  onClose: () => void;
  required?: boolean;
  /** Ask for a free-text reason (off when the children hold the whole question). */
  text?: boolean;
  children?: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) {
      setReason('');
      setError(null);
      d.showModal();
    }
    if (!open && d.open) d.close();
  }, [open]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (text && required && !reason.trim()) {
      setError('A reason is required.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await onConfirm(reason.trim());
      onClose();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <dialog ref={ref} onClose={onClose} aria-labelledby="reason-title">
      <form onSubmit={submit}>
        <h2 id="reason-title">{title}</h2>
        {children}
        {text && (
          <label>
            Reason{required ? ' (required, recorded in the audit log)' : ''}
            <textarea
              name="reason"
              value={reason}
              maxLength={500}
              rows={3}
              onChange={(e) => setReason(e.target.value)}
              required={required}
            />
          </label>
        )}
        {error && (
          <p className="notice error" role="alert">
            {error}
          </p>
        )}
        <div className="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="danger" disabled={busy}>
            {confirm}
          </button>
        </div>
      </form>
    </dialog>
  );
}
