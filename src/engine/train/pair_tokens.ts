// pair_tokens: one preference pair token by token — for every completion token of its chosen and
// rejected answers: the token, its text, the policy's log-prob log π(y_t | x, y_<t), the
// reference's (where the run can compute it) and WPO's per-token term. The studio's pair view shows
// these (worker/training.ts answers `pairTokens` with them); nothing here touches the DOM.
//
// The same pieces as a training step, on one pair (R = 2 rows, train/README.md "Batch layout"):
//   packPairs([pair]) → sequenceForward (logp, lsp2 [2, T]; seqStats) → prefLoss   (no gradient)
// so the tokens and the pair's record come from one forward, with the trainer's kernels:
//   Σ_t weight_t·logp_t = the record's chosen_logp / rejected_logp (S; weight_t = 1 without LD-DPO)
//   wpo_t = logp_t − log Σ_v p_t(v)²  (spec preference-losses.md §2.3: lp_t − d_t, the current policy)
//   mean_t wpo_t = m = log w_side;  exp(m_w + m_l) = weight_raw;  min(·, 1) = weight (with the clamp)
// Completion token i of a row whose prompt has P tokens is scored at position P + i − 1 (the label
// shift, sequences.ts).
//
// The reference, as the trainer has it (ref_cache.ts): only its per-pair SUMS are kept. With a LoRA
// adapter the reference is the base model, so its per-token log-probs are computed here with the
// adapter off (they sum to the trainer's R). A full fine-tuning run has overwritten the reference's
// weights, so its per-token values are not available ('not-kept'; the record still holds R).
// SimPO and reference_free runs have none ('none').
//
// Which weights: the caller's, as they are. A record of training step k was computed with the
// weights after k − 1 optimizer steps, so tokens computed after k − 1 steps sum to step k's
// record of the pair (if the pair was in it) — except under LoRA dropout, which the training
// forward applies and this one (as evaluation) does not.

import type { Tokenizer } from '../data/tokenizer.ts';
import type { Engine } from '../engine.ts';
import { EngineError } from '../errors.ts';
import type { Gemma2Dims, Gemma2Params } from '../model/gemma2.ts';
import { prefLoss } from '../ops/pref_loss.ts';
import { needsReference, needsTargets, type LossConfig } from './losses.ts';
import { pairRecords, type PairRecord } from './metrics.ts';
import { packPairs, sequenceForward, type PackedPairs } from './sequences.ts';
import type { TrainExample } from './trainer.ts';

/** One completion token. */
export interface TokenRow {
  /** Token id. */
  id: number;
  /** Its text (tokenPieces; the pieces of an answer join to its decoded text). */
  text: string;
  /** log π(y_t | x, y_<t) under the policy's current weights. */
  logp: number;
  /** The reference's log-prob of the same token; null when the run keeps none per token. */
  refLogp: number | null;
  /** WPO's term logp − log Σ_v p(v)²; its mean over the answer's tokens is log w of the answer. */
  wpo: number;
  /** The token's weight in the summed log-prob S: 1, or LD-DPO's ld_alpha after the common length. */
  weight: number;
}

/**
 * Where refLogp comes from: 'adapter-off' (LoRA: the base model, as the reference pass ran it),
 * 'not-kept' (full fine-tuning: the reference weights are gone, only the sums are kept),
 * 'none' (the loss has no reference: SimPO, reference_free).
 */
export type ReferenceSource = 'adapter-off' | 'not-kept' | 'none';

export interface PairTokens {
  /** Dataset row of the pair. */
  row: number;
  /** Prompt tokens (the same for both answers). */
  promptTokens: number;
  chosen: TokenRow[];
  rejected: TokenRow[];
  reference: ReferenceSource;
  /**
   * The pair's record as the loss kernel computes it from this same forward (the fields of a
   * training step's PairRecord: chosen_logp, weight, margin, loss, …).
   */
  record: PairRecord;
}

export interface PairTokensOptions {
  loss: LossConfig;
  /** The trainer's reference sums of this pair (R_w, R_l); required when the loss has a reference. */
  referenceSums: readonly [number, number] | null;
  /** The text of each token (e.g. tokenPieces with the model's tokenizer); default: '' each. */
  pieces?: (ids: readonly number[]) => string[];
}

/** The policy's (and, where it can be computed, the reference's) view of one pair, token by token. */
export async function pairTokens(e: Engine, d: Gemma2Dims, params: Gemma2Params, example: TrainExample, opts: PairTokensOptions): Promise<PairTokens> {
  const { loss } = opts;
  const hasRef = needsReference(loss);
  if (hasRef && !opts.referenceSums) {
    throw new EngineError('pairTokens', `dataset row ${example.row}: the loss (${loss.lossTypes.join(', ')}) has a reference, but no reference sums were given`, 'pass the trainer\'s reference log-probs of the pair');
  }
  const packed = packPairs([example], { ldAlpha: loss.ldAlpha });
  const ad = params.adapter;
  const reference: ReferenceSource = !hasRef ? 'none' : ad ? 'adapter-off' : 'not-kept';
  // Both forwards are encoded synchronously, with the adapter as each needs it (forwardLora reads
  // it when the forward starts) and restored before any await: a generation or another request
  // interleaving with this one never sees it changed.
  const encode = <T>(adapterOn: boolean, f: () => T): T => {
    const was = ad ? { enabled: ad.enabled, seed: ad.dropoutSeed } : null;
    if (ad) {
      ad.enabled = adapterOn && ad.enabled;
      ad.dropoutSeed = null; // as evaluation: no LoRA dropout
    }
    try {
      return e.noGrad(() => e.tidy(f));
    } finally {
      if (ad && was) ({ enabled: ad.enabled, seed: ad.dropoutSeed } = was);
    }
  };
  const out = encode(true, () => {
    const { logp, lsp2, stats } = sequenceForward(e, d, params, packed);
    const ref = hasRef ? e.tensor(Float32Array.from(opts.referenceSums!), [2], { label: 'pairTokens.ref' }) : null;
    const targets = needsTargets(loss) ? e.tensor(packed.targets, [1, 2], { label: 'pairTokens.targets' }) : null;
    const { pairs } = prefLoss(stats, ref, targets, loss, { scale: 1 });
    return { logp, lsp2, pairs };
  });
  const refOut = reference === 'adapter-off' ? encode(false, () => sequenceForward(e, d, params, packed).logp) : null;
  const kept = [out.logp, out.lsp2, out.pairs, ...(refOut ? [refOut] : [])];
  let host: Float32Array[];
  try {
    host = (await e.readMany(kept)) as Float32Array[];
  } finally {
    kept.forEach((t) => t.dispose());
  }
  const [lp, l2, pr, refLp = null] = host;
  const pieces = opts.pieces ?? ((ids: readonly number[]) => ids.map(() => ''));
  const side = (r: number): TokenRow[] => tokenRows(packed, r, lp, l2, refLp, pieces);
  return { row: example.row, promptTokens: example.promptIds.length, chosen: side(0), rejected: side(1), reference, record: pairRecords(pr, [example.row])[0] };
}

/** Row r's completion tokens from [R, T] per-position values (position P + i − 1 scores token i). */
function tokenRows(p: PackedPairs, r: number, logp: Float32Array, lsp2: Float32Array, refLogp: Float32Array | null, pieces: (ids: readonly number[]) => string[]): TokenRow[] {
  const { T } = p;
  const P = p.promptLengths[r];
  const n = p.lengths[r];
  const ids = Array.from({ length: n }, (_, i) => p.ids[r * T + P + i]);
  const text = pieces(ids);
  return ids.map((id, i) => {
    const at = r * T + P + i - 1;
    if (p.mask[at] !== 1 || p.labels[at] !== id) throw new EngineError('pairTokens', `row ${r}, completion token ${i}: position ${P + i - 1} is not where its label is (the label shift in sequences.ts changed?)`);
    return { id, text: text[i] ?? '', logp: logp[at], refLogp: refLogp ? refLogp[at] : null, wpo: logp[at] - lsp2[at], weight: p.tokenWeight[at] };
  });
}

const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;

/**
 * The text of each token of `ids`, such that the texts join to tokenizer.decode(ids): a
 * byte-fallback piece (`<0xE2>`) adds the characters its byte completes ('' while a multi-byte
 * character is still open, the whole character on its last byte, the replacement mark on the last
 * byte of one left unfinished); every other token is decoded on its own (SentencePiece's ▁ as a
 * space, special tokens as written). Should a tokenizer's decoder not concatenate that way, each
 * token is decoded on its own instead.
 */
export function tokenPieces(tok: Tokenizer, ids: readonly number[]): string[] {
  const utf8 = new TextDecoder('utf-8');
  let open = false; // bytes waiting in the decoder
  const out: string[] = [];
  for (const id of ids) {
    const byte = BYTE_PIECE.exec(tok.idToToken(id) ?? '');
    if (byte) {
      open = true;
      out.push(utf8.decode(Uint8Array.of(parseInt(byte[1], 16)), { stream: true }));
      continue;
    }
    if (open) out[out.length - 1] += utf8.decode(); // an unfinished character: its replacement mark, on its last byte
    open = false;
    out.push(tok.decode([id]));
  }
  if (open) out[out.length - 1] += utf8.decode();
  return out.join('') === tok.decode(ids) ? out : ids.map((id) => tok.decode([id]));
}

/** Σ_t weight_t·logp_t of an answer's tokens: the record's chosen_logp / rejected_logp. */
export function summedLogp(rows: readonly TokenRow[]): number {
  return rows.reduce((s, t) => s + t.weight * t.logp, 0);
}

/** log w of an answer (WPO, spec §2.3): the mean of its tokens' WPO terms (0 for no tokens). */
export function logWeight(rows: readonly TokenRow[]): number {
  return rows.length === 0 ? 0 : rows.reduce((s, t) => s + t.wpo, 0) / rows.length;
}

/**
 * WPO's pair weight from the tokens (spec §2.3): raw = e^{m_w + m_l} with m = logWeight of each
 * answer, weight = min(raw, 1) with the clamp (LossConfig.wpoClamp). Equals the record's
 * weight_raw / weight when the loss uses weighting (there 1 otherwise).
 */
export function wpoPairWeight(chosen: readonly TokenRow[], rejected: readonly TokenRow[], clamp: boolean): { raw: number; weight: number } {
  const raw = Math.exp(logWeight(chosen) + logWeight(rejected));
  return { raw, weight: clamp ? Math.min(raw, 1) : raw };
}
