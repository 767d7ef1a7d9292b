// `prefstudio step` (one full-fine-tuning step, every loss and both optimizers) against float64 PyTorch.
//
// Each e2e/fixtures/step/<case>.json holds the CLI flags, the token-id pairs, the report that
// scripts/goldens/step_reference.py computes for them (an independent eager Gemma-2 in float64, the
// losses written from the spec, torch.optim's AdamW / RMSprop with the HF Trainer's decay groups), the
// tolerances, and "controls": reports of the same step with one convention changed (beta, the clamp,
// the decay grouping, clipping, …). The engine must match the expected report and must NOT match any
// control — so each control shows the comparison can tell that convention apart.
//
// LoRA (e2e/fixtures/step/lora/*.json): the same step training only the factors of a LoRA adapter on
// the frozen base (PEFT's branch x·Wᵀ + (x·Aᵀ)·Bᵀ·scale in the golden; dropout 0, its masks are ours),
// run in-process: the base loaded frozen, an adapter with the fixture's `lora_args` whose factors are
// set to the fixture's `adapter` (B nonzero), the reference computed with the adapter off, then one
// Trainer step. Its report also holds each factor's first gradient values (`grads_first`).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFlags, type CliIO } from '../src/cli/args.ts';
import { COMMANDS } from '../src/cli/commands.ts';
import { openModelFolder, uploadModel } from '../src/cli/model.ts';
import type { Engine } from '../src/engine/engine.ts';
import { adapterParams, createAdapter, disposeAdapter } from '../src/engine/model/lora.ts';
import { createNodeEngine } from '../src/engine/node.ts';
import { loraConfigFromFlags, lossConfigFromFlags } from '../src/engine/train/config.ts';
import { needsReference } from '../src/engine/train/losses.ts';
import { computeReferenceLogps } from '../src/engine/train/ref_cache.ts';
import { Trainer, TRAIN_DEFAULTS } from '../src/engine/train/trainer.ts';

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
  /** LoRA fixtures: each factor's first 8 gradient values. */
  grads_first?: Record<string, number[]>;
}
interface Tolerances {
  values_atol: number;
  values_rtol: number;
  grad_rtol: number;
  /** Absolute tolerance of each tensor's sum (5e-6 · Σ|p|). */
  params_sum: Record<string, number>;
  /** Absolute tolerance of each first value (2e-6, more where the update is ill-conditioned). */
  params_first: Record<string, number[]>;
  /** LoRA fixtures: absolute tolerance of each gradient's first values (grad_rtol · its norm). */
  grads_first?: Record<string, number>;
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
  for (const [name, g] of Object.entries(want.grads_first ?? {})) g.forEach((e, j) => close(`grads_first[${name}][${j}]`, got.grads_first?.[name]?.[j], e, tol.grads_first![name], 0));
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

// ---------------------------------------------------------------------------------------------
// LoRA: one step on the frozen base, in-process

interface LoraFixture extends StepFixture {
  lora_args: string[];
  adapter: Record<string, { shape: number[]; values: number[] }>;
}

const loraDir = join(fixtureDir, 'lora');
const REGENERATE_LORA = '/usr/bin/python3 scripts/goldens/step_reference.py --write-lora-fixtures';
const loraFixtures = readdirSync(loraDir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => ({ file: `e2e/fixtures/step/lora/${f}`, name: f.replace(/\.json$/, ''), fx: JSON.parse(readFileSync(join(loraDir, f), 'utf8')) as LoraFixture }));

const command = (name: string) => COMMANDS.find((c) => c.name === name)!;
const quiet: CliIO = { stdout: () => {}, log: () => {} };

/** `prefstudio step`'s settings (its flags, as cli/step.ts reads them) with the LoRA flags of `train`. */
function loraStepSettings(fx: LoraFixture) {
  const step = parseFlags(command('step'), ['--model', 'M', '--pairs', 'P', '--report', 'R', ...fx.args]);
  const train = parseFlags(command('train'), ['--model', 'M', '--data', 'D', '--out', 'O', ...fx.lora_args]);
  if (step === 'help' || train === 'help') throw new Error('parsed as --help');
  const n = (k: string, dflt: number | null): number | null => (step[k] === undefined ? dflt : Number(step[k]));
  const loss = lossConfigFromFlags(step);
  const options = { ...TRAIN_DEFAULTS, loss, optim: (step.optim ?? 'adamw_torch') as 'adamw_torch' | 'rmsprop', learningRate: n('learning_rate', TRAIN_DEFAULTS.learningRate)!, weightDecay: n('weight_decay', 0)! };
  return { lora: loraConfigFromFlags(train)!, loss, options: { ...options, lrSchedulerType: 'constant' as const, maxGradNorm: n('max_grad_norm', null), maxSteps: 1, batchSize: fx.pairs.pairs.length, shuffle: false, maxNonFiniteSteps: 1 } };
}

async function runLoraStep(e: Engine, fx: LoraFixture): Promise<StepReport> {
  const { lora, loss, options } = loraStepSettings(fx);
  const examples = fx.pairs.pairs.map((p, row) => ({ row, promptIds: p.prompt, chosenIds: p.chosen, rejectedIds: p.rejected }));
  const m = await uploadModel(await openModelFolder(join(root, fx.model), quiet), quiet, { trainable: false, engine: e });
  const ad = createAdapter(e, m.dims, lora, 0);
  const named = adapterParams(ad);
  if (named.map(([k]) => k).join() !== Object.keys(fx.adapter).join()) throw new Error(`the adapter of ${lora.targets.join(',')} has other tensors than the fixture's: ${named.map(([k]) => k).join(', ')}`);
  for (const [k, t] of named) t.write(Float32Array.from(fx.adapter[k].values));
  m.params.adapter = ad;
  const reference = needsReference(loss) ? await computeReferenceLogps(e, m.dims, m.params, examples, { batchSize: examples.length }) : null;
  const trainer = new Trainer(e, m.dims, m.params, examples, reference, options);
  const grads: Record<string, Float32Array> = {};
  const rec = await trainer.trainStep({ beforeUpdate: async () => void (await Promise.all(named.map(async ([k, t]) => (grads[k] = await t.grad!.readF32())))) });
  const after = await Promise.all(named.map(([, t]) => t.readF32()));
  const sum = (v: Float32Array): number => v.reduce((s, x) => s + x, 0);
  const report: StepReport = {
    loss: rec.loss,
    pairs: [...rec.pairs].sort((a, b) => a.row - b.row).map((p) => Object.fromEntries(PAIR_FIELDS.map((f) => [f, p[f as keyof typeof p] as number]))),
    grad_norm: rec.grad_norm,
    grad_norms: Object.fromEntries(named.map(([k]) => [k, Math.sqrt(grads[k].reduce((s, g) => s + g * g, 0))])),
    params_after: Object.fromEntries(named.map(([k], i) => [k, { sum: sum(after[i]), first: [...after[i].slice(0, 8)] }])),
    grads_first: Object.fromEntries(named.map(([k]) => [k, [...grads[k].slice(0, 8)]])),
  };
  trainer.dispose();
  disposeAdapter(ad);
  m.dispose();
  return report;
}

describe('one LoRA step against the float64 PyTorch reference (PEFT branch, frozen base)', () => {
  let e: Engine;
  beforeAll(async () => {
    e = await createNodeEngine();
  });
  afterAll(() => e?.destroy());

  it('the LoRA fixtures are complete and the comparison can fail', () => {
    expect(loraFixtures.length, `no fixtures in ${loraDir}; run ${REGENERATE_LORA}`).toBeGreaterThanOrEqual(4);
    for (const { file, fx } of loraFixtures) {
      const names = Object.keys(fx.adapter);
      for (const key of ['grad_norms', 'params_after', 'grads_first'] as const) expect(Object.keys(fx.expected[key]!), `${file}: ${key}; run ${REGENERATE_LORA}`).toEqual(names);
      expect(names.every((k) => /^base_model\.model\.model\.layers\.\d+\.(self_attn|mlp)\.\w+_proj\.lora_[AB]\.weight$/.test(k)), `${file}: PEFT key names`).toBe(true);
      expect(fx.controls.length, `${file}: controls`).toBeGreaterThan(0);
      for (const c of fx.controls) expect(compareReports(c.report, fx.expected, fx.tolerances).length, `${file}: control "${c.what}" passes the comparison`).toBeGreaterThan(0);
      const nudged = structuredClone(fx.expected);
      const [g0] = names;
      nudged.grads_first![g0][0] += 2 * fx.tolerances.grads_first![g0];
      expect(compareReports(nudged, fx.expected, fx.tolerances), `${file}: a gradient value off by 2× its tolerance`).toHaveLength(1);
    }
  });

  for (const { file, name, fx } of loraFixtures) {
    it(`${name}: ${[...fx.args, ...fx.lora_args].join(' ')} on ${fx.model}`, { timeout: 600_000 }, async () => {
      const got = await runLoraStep(e, fx);
      const bad = compareReports(got, fx.expected, fx.tolerances);
      expect(bad, `${file}: the engine's LoRA step differs from PyTorch (float64); ${summary(bad)}`).toEqual([]);
      for (const c of fx.controls) expect(compareReports(got, c.report, fx.tolerances).length, `${file}: the engine also matches the control "${c.what}"`).toBeGreaterThan(0);
    });
  }
});
