// metrics: the per-pair records the loss kernel writes, and TRL's logged batch metrics computed
// from them (spec preference-losses.md §2.5, §3.1, §8). Host-side arithmetic on the step's one
// readback; nothing here touches the GPU.
//
//   rewards/chosen, rewards/rejected   mean over pairs of r_w, r_l (β·a, β·b; SimPO: β·Ā)
//   rewards/margins, rewards/accuracies mean(r_w − r_l), mean(1[r_w > r_l])
//   logps/chosen, logps/rejected       mean of S (summed log-probs); SimPO logs the averages Ā
//   logits/chosen, logits/rejected     token-weighted mean over completion positions of the
//                                      vocabulary mean of the (soft-capped) logits (TRL ≥ 0.29)
//   mean_token_accuracy                chosen completion tokens whose argmax is the label

import { PAIR_FIELD_NAMES } from '../ops/pref_loss.ts';
import { SEQ_FIELD } from '../ops/seq_stats.ts';
import type { LossConfig } from './losses.ts';

/** One pair's outputs: every PAIR_FIELD by name, plus its dataset row. */
export type PairRecord = { row: number; nonfinite: boolean } & Record<string, number | boolean>;

/** TRL's batch metrics (keys exactly as TRL logs them). */
export interface StepMetrics {
  loss: number;
  'rewards/chosen': number;
  'rewards/rejected': number;
  'rewards/margins': number;
  'rewards/accuracies': number;
  'logps/chosen': number;
  'logps/rejected': number;
  'logits/chosen': number;
  'logits/rejected': number;
  mean_token_accuracy: number;
  num_tokens?: number;
}

const FIELD_NAMES: readonly string[] = PAIR_FIELD_NAMES;

/** Decodes a [B, PAIR_FIELDS] readback into records; `rows` = dataset row of each pair. */
export function pairRecords(data: Float32Array, rows: readonly number[]): PairRecord[] {
  const F = FIELD_NAMES.length;
  if (data.length !== rows.length * F) throw new Error(`metrics: ${data.length} values for ${rows.length} pairs × ${F} fields`);
  return rows.map((row, b) => {
    const rec: PairRecord = { row, nonfinite: false };
    FIELD_NAMES.forEach((name, f) => {
      const v = data[b * F + f];
      rec[name] = name === 'nonfinite' ? v !== 0 : v;
    });
    // the reference's per-token means, beside the policy's (the kernel has no use for them)
    rec.ref_chosen_logp_mean = (rec.ref_chosen_logp as number) / Math.max(1, rec.chosen_tokens as number);
    rec.ref_rejected_logp_mean = (rec.ref_rejected_logp as number) / Math.max(1, rec.rejected_tokens as number);
    return rec;
  });
}

const mean = (xs: number[]): number => (xs.length === 0 ? 0 : xs.reduce((s, x) => s + x, 0) / xs.length);

/**
 * TRL's metrics of a step (or an evaluation): `pairs` of every micro-batch, the per-row sums of
 * each micro-batch (`stats` [2B, SEQ_FIELDS], rows [0, B) chosen), and the step's loss.
 */
export function batchMetrics(pairs: readonly PairRecord[], statsRows: readonly { stats: Float32Array; B: number }[], cfg: LossConfig, loss: number): StepMetrics {
  const col = (name: string): number[] => pairs.map((p) => p[name] as number);
  const rc = col('reward_chosen');
  const rr = col('reward_rejected');
  const averaged = cfg.lossTypes.includes('simpo');
  const F = Object.keys(SEQ_FIELD).length;
  let zc = 0;
  let zr = 0;
  let nc = 0;
  let nr = 0;
  let hits = 0;
  for (const { stats, B } of statsRows) {
    for (let r = 0; r < 2 * B; r++) {
      const n = stats[r * F + SEQ_FIELD.n];
      const z = stats[r * F + SEQ_FIELD.zsum];
      if (r < B) {
        zc += z;
        nc += n;
        hits += stats[r * F + SEQ_FIELD.hits];
      } else {
        zr += z;
        nr += n;
      }
    }
  }
  return {
    loss,
    'rewards/chosen': mean(rc),
    'rewards/rejected': mean(rr),
    'rewards/margins': mean(rc.map((x, i) => x - rr[i])),
    'rewards/accuracies': mean(rc.map((x, i) => (x > rr[i] ? 1 : 0))),
    'logps/chosen': mean(col(averaged ? 'chosen_logp_mean' : 'chosen_logp')),
    'logps/rejected': mean(col(averaged ? 'rejected_logp_mean' : 'rejected_logp')),
    'logits/chosen': nc > 0 ? zc / nc : 0,
    'logits/rejected': nr > 0 ? zr / nr : 0,
    mean_token_accuracy: nc > 0 ? hits / nc : 0,
  };
}
