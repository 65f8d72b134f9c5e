// A line diff of two codes (jsdiff's diffLines, the Myers algorithm), shown as a unified diff: removed
// lines in <del>, added ones in <ins>, each with its sign and both line numbers, so the change reads
// the same to a screen reader, in a copy and to the eye. Long unchanged runs fold to three lines of
// context around each change.
import { diffLines } from 'diff';

const CONTEXT = 3;

interface Line {
  kind: 'same' | 'added' | 'removed';
  text: string;
  before: number | null;
  after: number | null;
}

function linesOf(before: string, after: string): Line[] {
  const lines: Line[] = [];
  let b = 1;
  let a = 1;
  for (const part of diffLines(before, after)) {
    const texts = part.value.replace(/\n$/, '').split('\n');
    for (const text of texts) {
      if (part.added) lines.push({ kind: 'added', text, before: null, after: a++ });
      else if (part.removed) lines.push({ kind: 'removed', text, before: b++, after: null });
      else lines.push({ kind: 'same', text, before: b++, after: a++ });
    }
  }
  return lines;
}

/** The lines to show: every change and CONTEXT lines around it; null stands for a folded run. */
function folded(lines: Line[]): Array<Line | null> {
  const keep = lines.map(() => false);
  lines.forEach((line, i) => {
    if (line.kind === 'same') return;
    for (let j = Math.max(0, i - CONTEXT); j <= Math.min(lines.length - 1, i + CONTEXT); j++) keep[j] = true;
  });
  const out: Array<Line | null> = [];
  lines.forEach((line, i) => {
    if (keep[i]) out.push(line);
    else if (out[out.length - 1] !== null) out.push(null);
  });
  return out;
}

const SIGN = { same: ' ', added: '+', removed: '-' } as const;

export function CodeDiff({ before, after, label }: { before: string; after: string; label: string }) {
  const lines = linesOf(before, after);
  const added = lines.filter((l) => l.kind === 'added').length;
  const removed = lines.filter((l) => l.kind === 'removed').length;
  if (added === 0 && removed === 0) {
    return (
      <p class="empty" data-testid="version-diff">
        {label}: no difference.
      </p>
    );
  }
  return (
    <figure class="diff" data-testid="version-diff">
      <figcaption>
        {label}: {added} line{added === 1 ? '' : 's'} added, {removed} removed
      </figcaption>
      <pre>
        {folded(lines).map((line, i) => {
          if (!line)
            return (
              <span key={i} class="fold">
                {'⋯\n'}
              </span>
            );
          const text = `${String(line.before ?? '').padStart(4)} ${String(line.after ?? '').padStart(4)} ${SIGN[line.kind]} ${line.text}\n`;
          if (line.kind === 'added') return <ins key={i}>{text}</ins>;
          if (line.kind === 'removed') return <del key={i}>{text}</del>;
          return <span key={i}>{text}</span>;
        })}
      </pre>
    </figure>
  );
}
