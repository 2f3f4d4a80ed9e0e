/** Markdown building blocks: every string from the data goes through `md` (or `code`) before it lands in the document. */

/**
 * Text from the data (identities, reasons, file names) as inert Markdown: punctuation that could
 * start emphasis, a link, a table cell or inline HTML is backslash-escaped, and newlines become spaces.
 */
export function md(text: string | number | null | undefined): string {
  if (text === null || text === undefined) return '';
  return String(text)
    .replace(/[\r\n]+/g, ' ')
    .replace(/[\\`*_[\]<>|~&]/g, (c) => `\\${c}`);
}

/** Inline code: a span the data cannot close (backticks and pipes replaced), for fingerprints and paths. */
export function code(text: string): string {
  return `\`${text.replace(/[\r\n]+/g, ' ').replace(/`/g, "'").replace(/\|/g, '¦')}\``;
}

/** A table; cells are already Markdown (escape them with `md`). */
export function table(head: readonly string[], rows: readonly (readonly string[])[], align?: readonly ('l' | 'r')[]): string {
  if (rows.length === 0) return '';
  const rule = head.map((_, i) => (align?.[i] === 'r' ? '---:' : '---'));
  return [head, rule, ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n') + '\n';
}

export const STATUS_WORD = { pass: '✔ PASS', fail: '✘ FAIL', 'not-applicable': '– N/A' } as const;
