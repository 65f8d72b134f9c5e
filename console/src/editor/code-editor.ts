// The hook editor proper, loaded only when a hook is opened (its own chunk): CodeMirror 6 with
// JavaScript highlighting, and completion of `event.` and `api.` from the catalog for the chosen
// event. Styles CodeMirror injects carry the page's CSP nonce.
//
// The view is uncontrolled: it owns the document, and the page reads it (getCode) when it saves or
// test-runs. Nothing is dispatched back into it from the page's state: mirroring each change into
// Preact state and pushing that state back (a controlled value) made the two fight under fast typing,
// each render's effect carrying an older value than the view's, until the page stopped answering.
import type { CompletionContext, CompletionResult } from '@codemirror/autocomplete';
import { javascript, javascriptLanguage } from '@codemirror/lang-javascript';
import { EditorState } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import { basicSetup } from 'codemirror';
import type { EventSpec } from '../api.ts';
import { GLOBALS, suggestionsFor } from './completion.ts';

export interface MountedEditor {
  setEvent(spec: EventSpec | null): void;
  /** The document as it is now. */
  getCode(): string;
  /** Replaces the whole document (loading a version into the editor; one undoable change). */
  setCode(code: string): void;
  focus(): void;
  destroy(): void;
}

function completionFor(getSpec: () => EventSpec | null) {
  return (context: CompletionContext): CompletionResult | null => {
    const member = context.matchBefore(/\b(?:event|api)(?:\.[A-Za-z_$][\w$]*)*\.[\w$]*$/);
    const spec = getSpec();
    if (member && spec) {
      const dot = member.text.lastIndexOf('.');
      const options = suggestionsFor(spec, member.text.slice(0, dot));
      return { from: member.from + dot + 1, options: options.map((s) => ({ label: s.label, type: s.type, detail: s.detail })), validFor: /^[\w$]*$/ };
    }
    const word = context.matchBefore(/[\w$]+$/);
    if (!word || (word.from === word.to && !context.explicit)) return null;
    return { from: word.from, options: GLOBALS.map((s) => ({ label: s.label, type: s.type, detail: s.detail })), validFor: /^[\w$]*$/ };
  };
}

export function mountEditor(parent: HTMLElement, options: { code: string; label: string; nonce: string; readOnly: boolean }): MountedEditor {
  let spec: EventSpec | null = null;
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: options.code,
      extensions: [
        basicSetup,
        javascript(),
        // Next to the language's own completions (keywords, snippets, local names).
        javascriptLanguage.data.of({ autocomplete: completionFor(() => spec) }),
        EditorView.cspNonce.of(options.nonce),
        EditorView.contentAttributes.of({ 'aria-label': options.label }),
        EditorState.readOnly.of(options.readOnly),
        EditorView.editable.of(!options.readOnly),
      ],
    }),
  });
  return {
    setEvent(next) {
      spec = next;
    },
    getCode: () => view.state.doc.toString(),
    setCode: (code) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: code } }),
    focus: () => view.focus(),
    destroy: () => view.destroy(),
  };
}
