// Text/csv as RFC 4180 writes it: CRLF after every record, the header included; a field holding
// a comma, a double quote, CR or LF is enclosed in double quotes, a quote in it doubled. A
// missing value (null) is an empty field.

export type CsvValue = string | number | null;

export function csvField(value: CsvValue): string {
  const text = value === null ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The header line, then one line per row. */
export function toCsv(header: readonly string[], rows: ReadonlyArray<readonly CsvValue[]>): string {
  return [header, ...rows].map((r) => r.map(csvField).join(',') + '\r\n').join('');
}
