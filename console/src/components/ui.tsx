// The console's few building blocks: a labelled field that shows the API's error when the error names
// it, a form-level error banner, a busy indicator, a confirmation dialog (the native <dialog>, which
// traps focus and closes on Escape) and a hook that loads data with loading and error states.
import type { ComponentChildren, TargetedEvent } from 'preact';
import { useCallback, useEffect, useId, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api.ts';

export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data: T | null; error: Error | null; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data: T | null; error: Error | null; loading: boolean }>({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    load().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error: Error) => live && setState({ data: null, error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return { ...state, reload: useCallback(() => setTick((t) => t + 1), []) };
}

/** Runs an action with a busy flag and keeps its error for the fields and the banner. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const run = useCallback(async <T,>(action: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(null);
    try {
      return await action();
    } catch (caught) {
      setError(caught as Error);
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run, setError };
}

/** The error's message when it names `field`. */
export function fieldError(error: Error | null, field: string): string | null {
  return error instanceof ApiError && error.field === field ? error.message : null;
}

interface FieldProps {
  label: string;
  name: string;
  error: Error | null;
  hint?: string;
  children: (props: { id: string; name: string; 'aria-invalid': boolean; 'aria-describedby'?: string }) => ComponentChildren;
}

export function Field({ label, name, error, hint, children }: FieldProps) {
  const id = useId();
  const message = fieldError(error, name);
  const describedBy = [hint ? `${id}-hint` : '', message ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div class={`field${message ? ' invalid' : ''}`}>
      <label for={id}>{label}</label>
      {children({ id, name, 'aria-invalid': Boolean(message), ...(describedBy ? { 'aria-describedby': describedBy } : {}) })}
      {hint && (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {message && (
        <p class="field-error" id={`${id}-error`} role="alert">
          {message}
        </p>
      )}
    </div>
  );
}

/** The error no field took, as an alert. */
export function ErrorBanner({ error, fields = [] }: { error: Error | null; fields?: string[] }) {
  if (!error) return null;
  if (error instanceof ApiError && error.field && fields.includes(error.field)) return null;
  return (
    <div class="banner error" role="alert">
      {error.message}
    </div>
  );
}

export function Busy({ label = 'Loading…' }: { label?: string }) {
  return (
    <p class="busy" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" />
      {label}
    </p>
  );
}

export function LoadError({ error, retry }: { error: Error; retry: () => void }) {
  return (
    <div class="banner error" role="alert">
      <p>{error.message}</p>
      <button type="button" onClick={retry}>
        Try again
      </button>{' '}
      <a href="/admin/">Back to the journey map</a>
    </div>
  );
}

interface ConfirmProps {
  label: string;
  question: string;
  confirm?: string;
  onConfirm: () => void | Promise<void>;
  disabled?: boolean;
  danger?: boolean;
}

/** A button that asks first, in a modal dialog (focus moves into it; Escape cancels). */
export function ConfirmButton({ label, question, confirm = label, onConfirm, disabled, danger = true }: ConfirmProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  return (
    <>
      <button type="button" class={danger ? 'danger' : ''} disabled={disabled} onClick={() => dialog.current?.showModal()}>
        {label}
      </button>
      <dialog ref={dialog} aria-labelledby={titleId}>
        <p id={titleId}>{question}</p>
        <div class="actions">
          <button type="button" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
          <button
            type="button"
            class={danger ? 'danger' : 'primary'}
            onClick={async () => {
              dialog.current?.close();
              await onConfirm();
            }}
          >
            {confirm}
          </button>
        </div>
      </dialog>
    </>
  );
}

/** A panel of loaded data: its heading, a Refresh button, the loading and error states, then the data. */
export function LoadedPanel({
  id,
  title,
  load,
  children,
}: {
  id: string;
  title: string;
  load: { data: unknown; error: Error | null; loading: boolean; reload: () => void };
  children: ComponentChildren;
}) {
  return (
    <section class="panel" aria-labelledby={id}>
      <div class="page-head">
        <h2 id={id}>{title}</h2>
        <button type="button" onClick={load.reload}>
          Refresh<span class="sr-only"> {title.toLowerCase()}</span>
        </button>
      </div>
      {load.error && <LoadError error={load.error} retry={load.reload} />}
      {load.loading && !load.data && <Busy />}
      {children}
    </section>
  );
}

export function Badge({ children, tone = '' }: { children: ComponentChildren; tone?: string }) {
  return <span class={`badge ${tone}`}>{children}</span>;
}

export function Json({ value }: { value: unknown }) {
  return <pre class="json">{JSON.stringify(value, null, 2)}</pre>;
}

export type InputEvent = TargetedEvent<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement, Event>;
export const inputValue = (event: InputEvent) => event.currentTarget.value;

/** A table's head: a column header each, and a hidden "Actions" one when the rows have buttons. */
export function TableHead({ columns, actions = false }: { columns: string[]; actions?: boolean }) {
  return (
    <thead>
      <tr>
        {columns.map((column) => (
          <th key={column} scope="col">
            {column}
          </th>
        ))}
        {actions && (
          <th scope="col">
            <span class="sr-only">Actions</span>
          </th>
        )}
      </tr>
    </thead>
  );
}

/** What just happened, said politely (a status region). */
export function Notice({ text }: { text: string | null }) {
  if (!text) return null;
  return (
    <p class="banner good" role="status">
      {text}
    </p>
  );
}

/** The API's message about `field`, for a group of controls that no single <Field> holds. */
export function FieldMessage({ error, field, id }: { error: Error | null; field: string; id?: string }) {
  const message = fieldError(error, field);
  if (!message) return null;
  return (
    <p class="field-error" id={id} role="alert">
      {message}
    </p>
  );
}
