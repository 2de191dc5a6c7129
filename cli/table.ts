/** Left-aligned columns separated by two spaces, like kubectl; no trailing whitespace. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

/** `label  value` lines with the labels padded to one width; empty values are left out. */
export function renderFields(
  fields: readonly (readonly [label: string, value: string | undefined])[],
): string[] {
  const present = fields.filter((field): field is readonly [string, string] => Boolean(field[1]));
  const width = Math.max(0, ...present.map(([label]) => label.length));
  return present.map(([label, value]) => `${label.padEnd(width)}  ${value}`);
}
