// `prefstudio step`: one full-fine-tuning step on exactly the given pairs as one batch, reported in
// full — the command outside checks compare with PyTorch (scripts/goldens/step_reference.py).
//
// Contract (kept stable; outside checks rely on it):
//   prefstudio step --model DIR --pairs FILE [--loss_type L[,L…]] [--loss_weights W[,W…]]
//     [--use_weighting] [--wpo_no_clamp] [--beta B] [--simpo_gamma G] [--cpo_alpha A]
//     [--label_smoothing E] [--learning_rate LR] [--weight_decay WD] [--optim adamw_torch|rmsprop]
//     [--max_grad_norm N] [--adam_beta1 B1] [--adam_beta2 B2] [--adam_epsilon EPS] --report OUT.json
//   FILE: the `logps` pairs format. Reference = the initial model. No clipping unless
//   --max_grad_norm; AdamW with PyTorch's betas 0.9/0.999 and eps 1e-8 unless given; weight decay
//   0 unless given (HF TrainingArguments' default), never on norm weights; learning rate 1e-6
//   (TRL's default), constant for the one step.
//   OUT.json: {"loss", "pairs": [{"chosen_logp", "rejected_logp", "ref_chosen_logp",
//   "ref_rejected_logp", "reward_chosen", "reward_rejected", "margin", "weight", "loss"}],
//   "grad_norm", "grad_norms": {HF name: L2 norm of its gradient before clipping},
//   "params_after": {HF name: {"sum", "first": [first 8 values, row-major]}}}
//   Pairs are in file order; "weight" is the WPO pair weight after the clamp (1 without it).

import { writeFile } from 'node:fs/promises';
import type { Tensor } from '../engine/tensor.ts';
import { needsReference, validateLossConfig } from '../engine/train/losses.ts';
import { computeReferenceLogps } from '../engine/train/ref_cache.ts';
import { Trainer, TRAIN_DEFAULTS } from '../engine/train/trainer.ts';
import type { CliIO } from './args.ts';
import { lossConfigFromFlags, type Flags } from './flags.ts';
import { loadExamples, openModelFolder, uploadModel } from './model.ts';

const REPORT_FIELDS = ['chosen_logp', 'rejected_logp', 'ref_chosen_logp', 'ref_rejected_logp', 'reward_chosen', 'reward_rejected', 'margin', 'weight', 'loss'] as const;

export async function stepCommand(opts: Flags, io: CliIO): Promise<void> {
  const loss = validateLossConfig(lossConfigFromFlags(opts)); // before any weights load
  const opened = await openModelFolder(String(opts.model), io);
  const { examples } = await loadExamples(opened, String(opts.pairs), loss, opts, io); // before any weights load
  const m = await uploadModel(opened, io, { trainable: true });
  try {
    const d = m.dims;
    const reference = needsReference(loss) ? await computeReferenceLogps(m.e, d, m.params, examples, { batchSize: examples.length, ldAlpha: loss.ldAlpha }) : null;
    const trainer = new Trainer(m.e, d, m.params, examples, reference, {
      ...TRAIN_DEFAULTS,
      loss,
      optim: (opts.optim as 'adamw_torch' | 'rmsprop' | undefined) ?? 'adamw_torch',
      learningRate: (opts.learning_rate as number | undefined) ?? TRAIN_DEFAULTS.learningRate,
      weightDecay: (opts.weight_decay as number | undefined) ?? 0,
      adamBeta1: (opts.adam_beta1 as number | undefined) ?? 0.9,
      adamBeta2: (opts.adam_beta2 as number | undefined) ?? 0.999,
      adamEpsilon: (opts.adam_epsilon as number | undefined) ?? 1e-8,
      lrSchedulerType: 'constant',
      maxGradNorm: (opts.max_grad_norm as number | undefined) ?? null,
      maxSteps: 1,
      batchSize: examples.length,
      gradientAccumulationSteps: 1,
      shuffle: false,
      maxNonFiniteSteps: 1,
    });
    const gradNorms: Record<string, number> = {};
    const rec = await trainer.trainStep({
      beforeUpdate: async () => {
        for (const [name, parts] of groupByTensorName(trainer.namedParams)) {
          let ss = 0;
          for (const t of parts) {
            if (!t.grad) continue;
            for (const g of (await t.grad.read()) as Float32Array) ss += g * g;
          }
          gradNorms[name] = Math.sqrt(ss);
        }
      },
    });
    const paramsAfter: Record<string, { sum: number; first: number[] }> = {};
    for (const [name, parts] of groupByTensorName(trainer.namedParams)) {
      let sum = 0;
      const first: number[] = [];
      for (const t of parts) {
        const v = (await t.read()) as Float32Array;
        for (const x of v) sum += x;
        for (let i = 0; i < v.length && first.length < 8; i++) first.push(v[i]);
      }
      paramsAfter[name] = { sum, first };
    }
    const byRow = [...rec.pairs].sort((a, b) => a.row - b.row);
    const report = {
      loss: rec.loss,
      pairs: byRow.map((p) => Object.fromEntries(REPORT_FIELDS.map((f) => [f, p[f] as number]))),
      grad_norm: rec.grad_norm,
      grad_norms: gradNorms,
      params_after: paramsAfter,
      ...(rec.skipped ? { skipped: rec.skipped } : {}),
    };
    await writeFile(String(opts.report), `${JSON.stringify(report, null, 1)}\n`);
    io.log(`step: loss ${rec.loss.toPrecision(6)}, grad_norm ${rec.grad_norm.toPrecision(6)}, ${byRow.length} pairs → ${String(opts.report)}`);
    trainer.dispose();
  } finally {
    m.dispose();
  }
}

/** HF tensor name → its tensors (one, or the row parts of a split embedding, in row order). */
export function groupByTensorName(named: readonly [string, Tensor][]): Map<string, Tensor[]> {
  const out = new Map<string, Tensor[]>();
  for (const [name, t] of named) {
    const base = name.replace(/\[\d+:\d+\]$/, '');
    out.set(base, [...(out.get(base) ?? []), t]);
  }
  return out;
}
