import Table from 'cli-table3';
import type { Colors } from './output.js';

/** A cli-table3 table with bold headings and no colour codes of its own (so `NO_COLOR` holds). */
export function table(head: readonly string[], rows: readonly (readonly (string | number)[])[], c: Colors, align?: readonly ('left' | 'right')[]): string {
  const t = new Table({
    head: head.map((h) => c.bold(h)),
    style: { head: [], border: [], 'padding-left': 1, 'padding-right': 1 },
    ...(align === undefined ? {} : { colAligns: [...align] }),
  });
  for (const row of rows) t.push(row.map((cell) => (typeof cell === 'number' ? String(cell) : cell)));
  return t.toString();
}
