// The Check screen's per-op totals and bug report on made-up outcomes: a failure and a pending
// case count where they belong, the worst error and tolerance share per op, the report's lines.
import { describe, expect, it } from 'vitest';
import type { CheckCaseView } from '../../store/slices/check/initialState.ts';
import { adapterLine, fmtError, fmtShare, opResult, reportText, summarizeByOp } from './report.ts';

const c = (op: string, name: string, ok: boolean | null, maxAbsError: number | null, toleranceUsed: number | null, error?: string): CheckCaseView => ({ op, name, ok, ms: 100, comparisons: 2, maxAbsError, toleranceUsed, ...(error && { error }) });

const CASES = [
  c('matmul', 'matmul: a', true, 1e-6, 0.01),
  c('matmul', 'matmul: b', false, Infinity, Infinity, 'Error: matmul b forward output 0: 3/35 elements outside atol=0.0001 rtol=0.0001\nsecond line'),
  c('rmsnorm', 'rmsnorm: a', true, 2e-7, 0.5),
  c('rmsnorm', 'rmsnorm: b', true, 8e-7, 0.25),
  c('convert', 'convert: bits', true, null, null),
  c('rope', 'rope: a', null, null, null),
];
const ADAPTER = { vendor: 'google', architecture: 'swiftshader', device: '', description: '', isSoftware: true, subgroupMinSize: 4, subgroupMaxSize: 4 };

describe('check report', () => {
  it('sums cases per op: passed, failed, pending, the worst error and tolerance share', () => {
    const ops = summarizeByOp(CASES);
    expect(ops.map((s) => [s.op, s.passed, s.failed, s.pending, s.maxAbsError, s.toleranceUsed, opResult(s)])).toEqual([
      ['matmul', 1, 1, 0, Infinity, Infinity, 'FAIL'],
      ['rmsnorm', 2, 0, 0, 8e-7, 0.5, 'pass'],
      ['convert', 1, 0, 0, null, null, 'pass'],
      ['rope', 0, 0, 1, null, null, 'not run'],
    ]);
  });

  it('formats errors and shares', () => {
    expect([fmtError(3.24e-7), fmtError(0), fmtError(Infinity), fmtError(null)]).toEqual(['3.2e-7', '0', 'not finite', 'exact']);
    expect([fmtShare(0.034), fmtShare(0.5), fmtShare(Infinity), fmtShare(null)]).toEqual(['3.4 %', '50 %', 'over', '—']);
  });

  it('names the adapter with or without its description', () => {
    expect(adapterLine(ADAPTER)).toBe('google / swiftshader (software: runs on the CPU)');
    expect(adapterLine({ ...ADAPTER, description: 'SwiftShader driver 5.0.0', device: 'swiftshader-device' })).toBe('SwiftShader driver 5.0.0 (google / swiftshader, device swiftshader-device, software: runs on the CPU)');
  });

  it('writes the report: counts, browser, adapter, limits, a line per op, failures with their messages', () => {
    const text = reportText({ which: 'quick', startedAt: '2026-01-02T03:04:05.000Z', browser: 'TestBrowser/1', adapter: ADAPTER, features: ['subgroups'], limits: { maxBufferSize: 1024, other: 1 }, cases: CASES, ms: 1234, stopped: true });
    const lines = text.split('\n');
    expect(lines.slice(0, 7)).toEqual([
      'PrefStudio self-check (quick: small shapes per op): 4 of 5 cases passed, 1 FAILED (stopped; 1 not run) in 1.2 s',
      'Date: 2026-01-02T03:04:05.000Z',
      'Browser: TestBrowser/1',
      'Adapter: google / swiftshader (software: runs on the CPU)',
      'Subgroup size: 4–4',
      'Features: subgroups',
      'Limits: maxBufferSize=1024',
    ]);
    expect(lines.find((l) => l.startsWith('matmul '))).toMatch(/^matmul +FAIL +1\/2 +not finite +over +0\.20 s$/);
    expect(lines.find((l) => l.startsWith('rmsnorm '))).toMatch(/^rmsnorm +pass +2\/2 +8\.0e-7 +50 % +0\.20 s$/);
    expect(text.endsWith('Failures:\n✗ matmul: b\n    Error: matmul b forward output 0: 3/35 elements outside atol=0.0001 rtol=0.0001\n    second line')).toBe(true);
  });
});
