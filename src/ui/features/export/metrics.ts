// A run's step records as files: metrics.jsonl (one JSON object per optimizer step, exactly as
// `prefstudio train` writes it: TRL's logged names, per-pair values under "pairs") and metrics.csv
// (one row per step, one column per scalar field in the order they first appear; the per-pair
// values stay in the JSONL). Numbers are written in full (shortest round-trip form).

/** One optimizer step's record: its step and fields by name (StepRecord, or one rebuilt from a stored history). */
export type MetricRecord = { step: number } & Record<string, unknown>;

export function metricsJsonl(records: readonly MetricRecord[]): string {
  return records.map((r) => `${JSON.stringify(r)}\n`).join('');
}

/** The scalar columns of the records: step first, then every number / boolean / string field as first seen. */
export function metricColumns(records: readonly MetricRecord[]): string[] {
  const cols = new Set<string>(['step']);
  for (const r of records) for (const [k, v] of Object.entries(r)) if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') cols.add(k);
  return [...cols];
}

/** A CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180). */
function field(v: unknown): string {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'number' ? (Number.isNaN(v) ? 'NaN' : String(v)) : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function metricsCsv(records: readonly MetricRecord[]): string {
  const cols = metricColumns(records);
  return [cols.map(field).join(','), ...records.map((r) => cols.map((c) => field(r[c])).join(','))].map((l) => `${l}\r\n`).join('');
}
