// `prefstudio step` (one full-fine-tuning step, every loss and both optimizers) against float64 PyTorch.
//
// Each e2e/fixtures/step/<case>.json holds the CLI flags, the token-id pairs, the report that
// scripts/goldens/step_reference.py computes for them (an independent eager Gemma-2 in float64, the
// losses written from the spec, torch.optim's AdamW / RMSprop with the HF Trainer's decay groups), the
// tolerances, and "controls": reports of the same step with one convention changed (beta, the clamp,
// the decay grouping, clipping, …). The engine must match the expected report and must NOT match any
// control — so each control shows the comparison can tell that convention apart.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const fixtureDir = join(root, 'e2e', 'fixtures', 'step');
const REGENERATE = '/usr/bin/python3 scripts/goldens/step_reference.py --write-fixtures';
const PAIR_FIELDS = ['chosen_logp', 'rejected_logp', 'ref_chosen_logp', 'ref_rejected_logp', 'reward_chosen', 'reward_rejected', 'margin', 'weight', 'loss'];

type PairReport = Record<string, number>;
interface StepReport {
  loss: number;
  pairs: PairReport[];
  grad_norm: number;
  grad_norms: Record<string, number>;
  params_after: Record<string, { sum: number; first: number[] }>;
}
interface Tolerances {
  values_atol: number;
  values_rtol: number;
  grad_rtol: number;
  /** Absolute tolerance of each tensor's sum (5e-6 · Σ|p|). */
  params_sum: Record<string, number>;
  /** Absolute tolerance of each first value (2e-6, more where the update is ill-conditioned). */
  params_first: Record<string, number[]>;
}
interface StepFixture {
  model: string;
  args: string[];
  pairs: { pairs: { prompt: number[]; chosen: number[]; rejected: number[] }[] };
  expected: StepReport;
  tolerances: Tolerances;
  controls: { what: string; report: StepReport }[];
}

const fixtures = readdirSync(fixtureDir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => ({ file: `e2e/fixtures/step/${f}`, name: f.replace(/\.json$/, ''), fx: JSON.parse(readFileSync(join(fixtureDir, f), 'utf8')) as StepFixture }));

/**
 * Every place where `got` is outside the tolerance of `want`, as "field: got …, want …" lines
 * (empty = the reports agree). Missing or extra names are mismatches too.
 */
function compareReports(got: StepReport, want: StepReport, tol: Tolerances): string[] {
  const bad: string[] = [];
  const close = (what: string, a: unknown, e: number, atol: number, rtol: number): void => {
    if (typeof a !== 'number' || !(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      bad.push(`${what}: got ${String(a)}, want ${e} (|diff| ${typeof a === 'number' ? Math.abs(a - e).toExponential(2) : '-'}, allowed ${(atol + rtol * Math.abs(e)).toExponential(2)})`);
    }
  };
  close('loss', got.loss, want.loss, tol.values_atol, tol.values_rtol);
  if (got.pairs?.length !== want.pairs.length) bad.push(`pairs: ${got.pairs?.length} entries, want ${want.pairs.length}`);
  want.pairs.forEach((q, i) => {
    for (const k of PAIR_FIELDS) close(`pairs[${i}].${k}`, got.pairs?.[i]?.[k], q[k], tol.values_atol, tol.values_rtol);
  });
  close('grad_norm', got.grad_norm, want.grad_norm, 0, tol.grad_rtol);
  for (const [name, g] of Object.entries(want.grad_norms)) close(`grad_norms[${name}]`, got.grad_norms?.[name], g, 1e-12, tol.grad_rtol);
  for (const [name, p] of Object.entries(want.params_after)) {
    const q = got.params_after?.[name];
    close(`params_after[${name}].sum`, q?.sum, p.sum, tol.params_sum[name], 0);
    p.first.forEach((e, j) => close(`params_after[${name}].first[${j}]`, q?.first?.[j], e, tol.params_first[name][j], 0));
  }
  for (const key of ['grad_norms', 'params_after'] as const) {
    const extra = Object.keys(got[key] ?? {}).filter((n) => !(n in want[key]));
    if (extra.length > 0) bad.push(`${key}: unexpected tensors ${extra.join(', ')}`);
  }
  return bad;
}

function runStep(fx: StepFixture, name: string): StepReport {
  const dir = mkdtempSync(join(tmpdir(), 'prefstudio-step-'));
  const pairs = join(dir, `${name}.pairs.json`);
  const report = join(dir, `${name}.report.json`);
  writeFileSync(pairs, JSON.stringify(fx.pairs));
  const args = ['step', '--model', join(root, fx.model), '--pairs', pairs, ...fx.args, '--report', report];
  const r = spawnSync(process.execPath, [join(root, 'bin', 'prefstudio.mjs'), ...args], { cwd: root, encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`prefstudio ${args.join(' ')} exited with ${r.status ?? r.signal}:\n${r.stderr}`);
  return JSON.parse(readFileSync(report, 'utf8')) as StepReport;
}

function summary(bad: string[]): string {
  return `${bad.length} mismatches:\n  ${bad.slice(0, 12).join('\n  ')}${bad.length > 12 ? `\n  … ${bad.length - 12} more` : ''}`;
}

describe('prefstudio step against the float64 PyTorch reference', () => {
  it('the fixtures are complete and the comparison can fail (controls differ from the expected reports)', () => {
    expect(fixtures.length, `no fixtures in ${fixtureDir}; run ${REGENERATE}`).toBeGreaterThanOrEqual(17);
    let controls = 0;
    for (const { file, fx } of fixtures) {
      const names = Object.keys(fx.expected.params_after);
      expect(Object.keys(fx.expected.grad_norms), `${file}: grad_norms and params_after name different tensors; run ${REGENERATE}`).toEqual(names);
      expect(Object.keys(fx.tolerances.params_first), `${file}: tolerances do not cover every tensor; run ${REGENERATE}`).toEqual(names);
      expect(compareReports(fx.expected, fx.expected, fx.tolerances), `${file}: the expected report must agree with itself`).toEqual([]);
      for (const c of fx.controls) {
        controls++;
        const bad = compareReports(c.report, fx.expected, fx.tolerances);
        expect(bad.length, `${file}: control "${c.what}" passes the comparison, so the test cannot tell it apart`).toBeGreaterThan(0);
      }
      // A report that is right except for one number just outside its tolerance must fail too.
      const nudged = structuredClone(fx.expected);
      nudged.loss += 2 * (fx.tolerances.values_atol + fx.tolerances.values_rtol * Math.abs(nudged.loss));
      expect(compareReports(nudged, fx.expected, fx.tolerances), `${file}: a loss off by 2× its tolerance`).toHaveLength(1);
    }
    expect(controls).toBeGreaterThanOrEqual(10);
  });

  for (const { file, name, fx } of fixtures) {
    it(`${name}: prefstudio step ${fx.args.join(' ')} on ${fx.model}`, { timeout: 600_000 }, () => {
      const got = runStep(fx, name);
      expect(Object.keys(got).sort(), `${file}: report keys`).toEqual(['grad_norm', 'grad_norms', 'loss', 'pairs', 'params_after']);
      got.pairs.forEach((p, i) => expect(Object.keys(p).sort(), `${file}: pairs[${i}] keys`).toEqual([...PAIR_FIELDS].sort()));
      expect(Object.keys(got.params_after).sort(), `${file}: params_after must name every parameter tensor (HF names)`).toEqual(Object.keys(fx.expected.params_after).sort());
      for (const [n, p] of Object.entries(got.params_after)) expect(p.first.length, `${file}: params_after[${n}].first`).toBe(8);
      const bad = compareReports(got, fx.expected, fx.tolerances);
      expect(bad, `${file}: the engine's step differs from PyTorch (float64); ${summary(bad)}`).toEqual([]);
      for (const c of fx.controls) {
        expect(compareReports(got, c.report, fx.tolerances).length, `${file}: the engine also matches the control "${c.what}"`).toBeGreaterThan(0);
      }
    });
  }
});
