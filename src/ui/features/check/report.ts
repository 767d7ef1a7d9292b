// The Check screen's numbers and its bug report, from the check slice's plain data (no React):
// per-op totals (the results table) and the report text a user pastes into an issue — what ran
// where (browser, adapter, features, limits), every op's worst error against its tolerance, and
// each failure's message.

import type { AdapterView } from '../../store/slices/device/initialState.ts';
import type { CheckCaseView, CheckWhich } from '../../store/slices/check/initialState.ts';

export interface OpSummary {
  op: string;
  cases: number;
  passed: number;
  failed: number;
  /** Cases not run yet (a check still running or stopped). */
  pending: number;
  /** Worst over its cases that compared numbers (null: none did). */
  maxAbsError: number | null;
  toleranceUsed: number | null;
  ms: number;
}

/** Totals per op, in the order the ops first appear. */
export function summarizeByOp(cases: readonly CheckCaseView[]): OpSummary[] {
  const byOp = new Map<string, OpSummary>();
  for (const c of cases) {
    let s = byOp.get(c.op);
    if (!s) byOp.set(c.op, (s = { op: c.op, cases: 0, passed: 0, failed: 0, pending: 0, maxAbsError: null, toleranceUsed: null, ms: 0 }));
    s.cases++;
    if (c.ok === null) {
      s.pending++;
      continue;
    }
    if (c.ok) s.passed++;
    else s.failed++;
    s.ms += c.ms;
    if (c.maxAbsError !== null) s.maxAbsError = Math.max(s.maxAbsError ?? 0, c.maxAbsError);
    if (c.toleranceUsed !== null) s.toleranceUsed = Math.max(s.toleranceUsed ?? 0, c.toleranceUsed);
  }
  return [...byOp.values()];
}

/** 3.2e-7 → "3.2e-7", 0 → "0", Infinity (a NaN) → "not finite", null → "exact". */
export function fmtError(x: number | null): string {
  if (x === null) return 'exact';
  if (!Number.isFinite(x)) return 'not finite';
  if (x === 0) return '0';
  return x.toExponential(1);
}

/** 0.034 → "3.4 %", null → "—". */
export function fmtShare(x: number | null): string {
  if (x === null) return '—';
  if (!Number.isFinite(x)) return 'over';
  return `${(x * 100).toFixed(x < 0.1 ? 1 : 0)} %`;
}

/** An op's result word: pass, FAIL, or how many are still to run. */
export function opResult(s: OpSummary): string {
  if (s.failed > 0) return 'FAIL';
  if (s.pending > 0) return s.passed > 0 ? `${s.pending} to run` : 'not run';
  return 'pass';
}

/**
 * The adapter in one line: "SwiftShader driver 5.0.0 (google / swiftshader, device …, software: …)",
 * or "google / swiftshader (software: runs on the CPU)" where the browser withholds the description.
 */
export function adapterLine(a: AdapterView): string {
  const who = [a.vendor, a.architecture].filter(Boolean).join(' / ') || 'unnamed adapter';
  const kind = a.isSoftware ? 'software: runs on the CPU' : 'hardware';
  const name = a.description || a.device;
  if (!name) return `${who} (${kind})`;
  return `${name} (${[who, a.device && a.device !== name ? `device ${a.device}` : '', kind].filter(Boolean).join(', ')})`;
}

/** Limits a bug report should carry (the rest are in the GPU panel). */
const REPORT_LIMITS = ['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupsPerDimension', 'minStorageBufferOffsetAlignment'];

export interface ReportInput {
  which: CheckWhich;
  startedAt: string | null;
  /** navigator.userAgent. */
  browser: string;
  adapter: AdapterView | null;
  features: readonly string[];
  limits: Readonly<Record<string, number>>;
  cases: readonly CheckCaseView[];
  ms: number;
  stopped: boolean;
}

const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));

/** The report as plain text (monospace columns; pasted into an issue it reads as is). */
export function reportText(r: ReportInput): string {
  const ops = summarizeByOp(r.cases);
  const ran = r.cases.filter((c) => c.ok !== null);
  const failed = ran.filter((c) => c.ok === false);
  const lines = [
    `PrefStudio self-check (${r.which === 'quick' ? 'quick: small shapes per op' : 'full suite'}): ${ran.length - failed.length} of ${ran.length} cases passed${failed.length ? `, ${failed.length} FAILED` : ''}${r.stopped ? ` (stopped; ${r.cases.length - ran.length} not run)` : ''} in ${(r.ms / 1000).toFixed(1)} s`,
    `Date: ${r.startedAt ?? 'unknown'}`,
    `Browser: ${r.browser}`,
    `Adapter: ${r.adapter ? adapterLine(r.adapter) : 'unknown'}`,
  ];
  if (r.adapter) lines.push(`Subgroup size: ${r.adapter.subgroupMaxSize ? `${r.adapter.subgroupMinSize}–${r.adapter.subgroupMaxSize}` : 'unknown'}`);
  lines.push(`Features: ${r.features.length ? r.features.join(', ') : 'none'}`);
  const limits = REPORT_LIMITS.filter((k) => k in r.limits).map((k) => `${k}=${r.limits[k]}`);
  if (limits.length) lines.push(`Limits: ${limits.join(', ')}`);
  lines.push('', 'Each case compares the GPU with a float64 CPU reference (forward, and gradients against finite differences).', '');
  const head = [pad('op', 18), pad('result', 10), pad('cases', 7), pad('max |error|', 13), pad('of tolerance', 13), 'time'].join(' ');
  lines.push(head, '-'.repeat(head.length + 4));
  for (const s of ops) {
    lines.push([pad(s.op, 18), pad(opResult(s), 10), pad(`${s.passed}/${s.cases}`, 7), pad(fmtError(s.maxAbsError), 13), pad(fmtShare(s.toleranceUsed), 13), `${(s.ms / 1000).toFixed(2)} s`].join(' '));
  }
  if (failed.length) {
    lines.push('', 'Failures:');
    for (const c of failed) lines.push(`✗ ${c.name}`, ...(c.error ?? 'no message').split('\n').map((l) => `    ${l}`));
  }
  return lines.join('\n');
}
