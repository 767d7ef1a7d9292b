// The engine's op suite as the product runs it: every op's GPU cases (cases/*.ts, each a list of
// GpuCase checked against the float64 CPU references in ../reference), registered here by op, and a
// quick selection of small shapes per op for the studio's Check screen ("Run check": about half a
// minute on SwiftShader, seconds on a GPU). The test runners (e2e/gpu/node.test.ts, the browser
// page e2e/gpu/browser/main.ts) run all of them through e2e/gpu/cases.ts, beside the engine-level
// cases that stay under e2e/gpu/cases/ (engine, pool, recompute, 16-bit weights).
//
// runCase runs one case and returns what a bug report needs: pass/fail, the largest error measured
// against the reference and how much of the case's tolerance it used, the time, and the failure.

import type { Engine } from '../engine.ts';
import { measureErrors, type GpuCase } from './harness.ts';
import { cases as attention } from './cases/attention.ts';
import { cases as attentionDecode } from './cases/attention_decode.ts';
import { cases as attentionDecodePadding } from './cases/attention_decode_padding.ts';
import { cases as convert } from './cases/convert.ts';
import { cases as dropout } from './cases/dropout.ts';
import { cases as elementwise } from './cases/elementwise.ts';
import { cases as embedding } from './cases/embedding.ts';
import { cases as geluTanh } from './cases/gelu_tanh.ts';
import { cases as linear } from './cases/linear.ts';
import { cases as logprobs } from './cases/logprobs.ts';
import { cases as matmul } from './cases/matmul.ts';
import { cases as optim } from './cases/optim.ts';
import { cases as prefLoss } from './cases/pref_loss.ts';
import { cases as reduce } from './cases/reduce.ts';
import { cases as rmsnorm } from './cases/rmsnorm.ts';
import { cases as rope } from './cases/rope.ts';
import { cases as seqStats } from './cases/seq_stats.ts';
import { cases as softcap } from './cases/softcap.ts';

export interface CheckModule {
  /** The op (or engine part) the cases check, as the report groups them. */
  op: string;
  /** The case module's file under cases/. */
  file: string;
  cases: GpuCase[];
  /** Names of the cases the quick check runs (small shapes, forward and backward). */
  quick: readonly string[];
}

export const CHECK_MODULES: readonly CheckModule[] = [
  { op: 'attention', file: 'attention.ts', cases: attention, quick: ['attention: T=5 GQA NH=4 KVH=2 HD=16', 'attention: T=17 GQA NH=4 KVH=2 HD=4 window=4 softcap=50 u32 mask, tiny tiles'] },
  { op: 'attention_decode', file: 'attention_decode.ts', cases: attentionDecode, quick: ['attention_decode: Tq=1 p0=38 GQA 4:2 HD=8 window=5 softcap=50', 'attention_decode: Tq=7 prefill p0=0 GQA 3:1 HD=6 window=3 tiny tiles'] },
  { op: 'attention_decode', file: 'attention_decode_padding.ts', cases: attentionDecodePadding, quick: [] },
  { op: 'convert', file: 'convert.ts', cases: convert, quick: ['convert: toF32 bf16 ±0, subnormals, extremes, ±inf, NaN (bit-exact)', 'convert: toF32 f16 ±0, subnormals, extremes, ±inf, NaN (bit-exact)', 'convert: toF32 f16 n=7'] },
  { op: 'dropout', file: 'dropout.ts', cases: dropout, quick: ['dropout: n=257 p=0.1 seed=12345'] },
  { op: 'elementwise', file: 'elementwise.ts', cases: elementwise, quick: ['elementwise: add [3,1,5]∘[4,1]→[3,4,5]', 'elementwise: mul row broadcast [7,33]∘[33]', 'elementwise: scale n=6 by -0.75'] },
  { op: 'embedding', file: 'embedding.ts', cases: embedding, quick: ['embedding: repeats and unused rows (V=10, C=33, ids [9])', 'embedding: split a part without ids (parts [0, 1, 20, 37], C=5, ids [2, 4])'] },
  { op: 'gelu_tanh', file: 'gelu_tanh.ts', cases: geluTanh, quick: ['gelu_tanh: n=257 in [-12, 12]', 'gelu_tanh: geglu [7, 37]'] },
  { op: 'linear (LoRA)', file: 'linear.ts', cases: linear, quick: ['linear: LoRA rows=7 in=13 out=9 r=3 scale=2 dropout=0'] },
  { op: 'logprobs', file: 'logprobs.ts', cases: logprobs, quick: ['logprobs: rows=[7] C=16 V=37 cap=30 slice=16 chunk=16', 'logprobs: split E parts [0,16,17,37] rows=[7] C=16 cap=30 slice=16 chunk=16'] },
  { op: 'matmul', file: 'matmul.ts', cases: matmul, quick: ['matmul: autograd tiled NN 5×6×7', 'matmul: autograd reg4x4 NT 5×6×7', 'matmul: autograd gemv TN 5×6×7', 'matmul: gemm tiled NT ragged shapes, offsets, accumulate'] },
  { op: 'optimizers', file: 'optim.ts', cases: optim, quick: ['optim: AdamW weight decay 0.01, sizes 1/7/1000, 5 cosine-scheduled steps', 'optim: RMSProp PyTorch defaults, sizes 1/7/1000, 3 steps', 'optim: clipGradNorm below maxNorm (scale 1) into RMSProp'] },
  { op: 'pref_loss', file: 'pref_loss.ts', cases: prefLoss, quick: ['pref_loss: sigmoid B=3', 'pref_loss: spec §9 WPO clamped (through seqStats)', 'pref_loss: simpo β=2 γ=1 B=17'] },
  { op: 'reduce', file: 'reduce.ts', cases: reduce, quick: ['reduce: sum [3,5,7] axis=1', 'reduce: mean [3,5,7] axis=-1 keepdim', 'reduce: sumTo [40,33]→[33]'] },
  { op: 'rmsnorm', file: 'rmsnorm.ts', cases: rmsnorm, quick: ['rmsnorm: x [7, 33]', 'rmsnorm: x [40, 33]'] },
  { op: 'rope', file: 'rope.ts', cases: rope, quick: ['rope: x [9, 3, 16] positions [9] 5…13', 'rope: matches HF f32 rope at positions 4000, 4095 to 5e-7'] },
  { op: 'seq_stats', file: 'seq_stats.ts', cases: seqStats, quick: ['seq_stats: R=2 T=3, an empty row', 'seq_stats: spec §9 sums'] },
  { op: 'softcap', file: 'softcap.ts', cases: softcap, quick: ['softcap: n=257 cap=30'] },
];

/** A case with the op it belongs to. */
export interface CheckCase {
  op: string;
  case: GpuCase;
}

/**
 * The cases to run: 'quick' = each module's quick selection, 'full' = every case, in module order.
 * Throws naming a quick case that no module has (a case renamed without updating its list here).
 */
export function checkCases(which: 'quick' | 'full'): CheckCase[] {
  return CHECK_MODULES.flatMap((m) => {
    if (which === 'full') return m.cases.map((c) => ({ op: m.op, case: c }));
    return m.quick.map((name) => {
      const c = m.cases.find((x) => x.name === name);
      if (!c) throw new Error(`check suite: cases/${m.file} has no case named "${name}" (renamed? update its quick list in src/engine/check/suite.ts)`);
      return { op: m.op, case: c };
    });
  });
}

/** One case's outcome, as the Check screen shows it and a bug report quotes it (plain data). */
export interface CaseOutcome {
  op: string;
  name: string;
  ok: boolean;
  /** Wall time including the final engine.sync(). */
  ms: number;
  /** Comparisons against the reference (or known values) the case made. */
  comparisons: number;
  /** The largest |GPU − reference| over them, null when the case compared nothing numerically (exact or error checks). */
  maxAbsError: number | null;
  /** The largest error / tolerance over them (≤ 1 passes), null as above. */
  toleranceUsed: number | null;
  /** Why it failed: the error's name and message. */
  error?: string;
}

/** Runs one case on `e` (then engine.sync(), so a GPU error inside it is the case's). */
export async function runCase(e: Engine, c: CheckCase): Promise<CaseOutcome> {
  const t0 = performance.now();
  const { measurements, error } = await measureErrors(async () => {
    await c.case.run(e);
    await e.sync();
  });
  const numeric = measurements.filter((m) => m.n > 0);
  const outcome: CaseOutcome = {
    op: c.op,
    name: c.case.name,
    ok: error === undefined,
    ms: performance.now() - t0,
    comparisons: measurements.length,
    maxAbsError: numeric.length ? Math.max(...numeric.map((m) => m.maxAbsError)) : null,
    toleranceUsed: numeric.length ? Math.max(...numeric.map((m) => m.toleranceUsed)) : null,
  };
  if (error !== undefined) outcome.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return outcome;
}
