import type { Terminal } from './output.ts';

/**
 * Prints rows under a bold header, columns padded to their widest cell (the last one
 * is not padded, so lines carry no trailing spaces).
 *
 * @example
 * printTable(terminal, ['ID', 'NAME'], [['agent_1', 'coder']]);
 */
export function printTable(terminal: Terminal, header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const format = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  terminal.line(format(header), 'heading');
  for (const row of rows) terminal.line(format(row));
}
