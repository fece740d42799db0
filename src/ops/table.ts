// Plain-text tables for operator output: a header row and aligned columns, sized to their widest cell.

/** Formats rows under `headers`, columns separated by two spaces; the last column is not padded. */
export function table(headers: string[], rows: string[][]): string {
  const width = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(width[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** `2024-05-01 12:34` (UTC) and how long ago, or `-`. */
export function when(at: number | null | undefined, now = Date.now()): string {
  if (!at) return '-';
  const stamp = new Date(at).toISOString().slice(0, 16).replace('T', ' ');
  return `${stamp} (${ago(now - at)})`;
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

/** Indents every non-empty line by two spaces. */
export function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => (l ? `  ${l}` : l))
    .join('\n');
}
