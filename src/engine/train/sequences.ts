// sequences: the one home of the sequence pipeline — pairs (or single prompt ‖ completion
// sequences) in; right-padded ids, the attention mask, TRL's shifted labels, the completion mask,
// per-token weights and per-row lengths out; then, on the GPU, the model's per-token log-probs and
// their per-row sums (ops/seq_stats.ts), kept per row and never reduced away.
//
// Layout (train/README.md "Batch layout", spec preference-losses.md §1.1):
//   a batch of B pairs is R = 2B rows: rows [0, B) prompt ‖ chosen, rows [B, 2B) prompt ‖ rejected;
//   position t predicts token t+1, so labels[r, t] = ids[r, t+1] when token t+1 is a completion
//   token, else −100 (ignored); mask[r, t] = 1 exactly there; n_r = Σ_t mask[r, t].
// The label shift happens here and nowhere else (the model only sees labels).
//
// LD-DPO (`ld_alpha`, spec §2.2): per pair, the first min(n_w, n_l) completion tokens of each side
// weigh 1 and later ones α; tokenWeight carries that (= mask without ld_alpha).

import type { Engine } from '../engine.ts';
import { LoadError, ShapeError } from '../errors.ts';
import { sequenceLogprobs, type Gemma2Dims, type Gemma2Params } from '../model/gemma2.ts';
import { seqStats } from '../ops/seq_stats.ts';
import type { Tensor } from '../tensor.ts';

/** The label value of positions that do not count (PyTorch's ignore_index). */
export const IGNORE = -100;

/** One sequence to score: the model reads prompt ‖ completion and scores the completion tokens. */
export interface SequenceIds {
  prompt: readonly number[];
  completion: readonly number[];
}

/** A preference pair's ids (data/examples.ts PreferenceExample satisfies this). */
export interface PairSequenceIds {
  /** Dataset row of the pair (carried into the per-pair outputs). */
  row: number;
  promptIds: readonly number[];
  chosenIds: readonly number[];
  rejectedIds: readonly number[];
  /** SPPO / GPO regression targets of the pair (train/README.md "Targets"), if the loss needs them. */
  targets?: readonly [number, number];
}

/** Host-side arrays of one padded batch of R rows of T tokens (row-major [R, T]). */
export interface PackedRows {
  R: number;
  T: number;
  ids: Int32Array;
  /** 1 = real token, 0 = right padding. */
  attentionMask: Int32Array;
  /** ids[r, t+1] where token t+1 is a completion token, else IGNORE. */
  labels: Int32Array;
  /** 1 where labels ≥ 0. */
  mask: Float32Array;
  /** mask, or LD-DPO weights. */
  tokenWeight: Float32Array;
  /** Completion tokens per row (n). */
  lengths: Int32Array;
  /** Prompt tokens per row. */
  promptLengths: Int32Array;
  /** Real (attention-mask) tokens in the batch: TRL's num_tokens counts these. */
  tokens: number;
}

/** A packed batch of B pairs (R = 2B rows: chosen rows first, then rejected rows). */
export interface PackedPairs extends PackedRows {
  B: number;
  /** Dataset row of each pair. */
  rows: number[];
  /** [B, 2] regression targets (0 where none). */
  targets: Float32Array;
}

/**
 * TRL's shift by one: the label of position t is ids[t+1] when token t+1 is a completion token
 * (`completion[r·T + t + 1] = 1`), else IGNORE. Returns the labels and the mask of scored positions.
 */
export function shiftLabels(ids: Int32Array, completion: ArrayLike<number>, R: number, T: number): { labels: Int32Array; mask: Float32Array } {
  if (ids.length !== R * T || completion.length !== R * T) throw new ShapeError('sequences.shiftLabels', `ids (${ids.length}) and the completion mask (${completion.length}) must both hold R·T = ${R * T} entries`);
  const labels = new Int32Array(R * T).fill(IGNORE);
  const mask = new Float32Array(R * T);
  for (let r = 0; r < R; r++) {
    for (let t = 0; t + 1 < T; t++) {
      if (completion[r * T + t + 1]) {
        labels[r * T + t] = ids[r * T + t + 1];
        mask[r * T + t] = 1;
      }
    }
  }
  return { labels, mask };
}

/** Right-pads `seqs` into one [R, T] batch with TRL's shifted labels. `pad` fills padding (default 0). */
export function packSequences(seqs: readonly SequenceIds[], opts: { pad?: number; where?: (i: number) => string } = {}): PackedRows {
  const R = seqs.length;
  if (R === 0) throw new ShapeError('sequences.pack', 'no sequences to pack');
  seqs.forEach((s, i) => {
    if (s.prompt.length === 0) {
      throw new LoadError(opts.where?.(i) ?? `sequence ${i}`, 'has an empty prompt: the first completion token would have nothing to be predicted from', 'start the prompt with <bos> (id 2 for Gemma)');
    }
  });
  const T = Math.max(...seqs.map((s) => s.prompt.length + s.completion.length));
  const ids = new Int32Array(R * T).fill(opts.pad ?? 0);
  const attentionMask = new Int32Array(R * T);
  const completionMask = new Uint8Array(R * T);
  const lengths = new Int32Array(R);
  const promptLengths = new Int32Array(R);
  let tokens = 0;
  seqs.forEach((s, r) => {
    const P = s.prompt.length;
    const n = s.completion.length;
    const base = r * T;
    ids.set(s.prompt, base);
    ids.set(s.completion, base + P);
    attentionMask.fill(1, base, base + P + n);
    completionMask.fill(1, base + P, base + P + n);
    lengths[r] = n;
    promptLengths[r] = P;
    tokens += P + n;
  });
  const { labels, mask } = shiftLabels(ids, completionMask, R, T);
  return { R, T, ids, attentionMask, labels, mask, tokenWeight: mask.slice(), lengths, promptLengths, tokens };
}

/** Packs B pairs as 2B rows (chosen rows, then rejected rows); LD-DPO token weights with ldAlpha. */
export function packPairs(pairs: readonly PairSequenceIds[], opts: { pad?: number; ldAlpha?: number | null; where?: (pairIndex: number) => string } = {}): PackedPairs {
  const B = pairs.length;
  if (B === 0) throw new ShapeError('sequences.packPairs', 'no pairs to pack');
  const seqs: SequenceIds[] = [
    ...pairs.map((p) => ({ prompt: p.promptIds, completion: p.chosenIds })),
    ...pairs.map((p) => ({ prompt: p.promptIds, completion: p.rejectedIds })),
  ];
  const packed = packSequences(seqs, { pad: opts.pad, where: (i) => opts.where?.(i % B) ?? `pair ${i % B} (dataset row ${pairs[i % B].row})` });
  const alpha = opts.ldAlpha;
  if (alpha !== null && alpha !== undefined) {
    const { T, tokenWeight, lengths, promptLengths } = packed;
    for (let b = 0; b < B; b++) {
      const common = Math.min(lengths[b], lengths[B + b]);
      for (const r of [b, B + b]) {
        // completion token i is scored at position P + i − 1
        for (let i = common; i < lengths[r]; i++) tokenWeight[r * T + promptLengths[r] + i - 1] = alpha;
      }
    }
  }
  const targets = new Float32Array(2 * B);
  pairs.forEach((p, b) => {
    if (p.targets) targets.set(p.targets, 2 * b);
  });
  return { ...packed, B, rows: pairs.map((p) => p.row), targets };
}

/** What one forward over a packed batch leaves on the GPU (the caller disposes). */
export interface SequenceOutputs {
  /** [R, T] per-position log-prob of the label (0 at ignored positions); differentiable. */
  logp: Tensor;
  /** [R, T] per-position log Σ_v p_v² of the same distribution (the WPO term; detached). */
  lsp2: Tensor;
  /** [R, SEQ_FIELDS] per-row sums (ops/seq_stats.ts); cols 0 and 1 differentiable. */
  stats: Tensor;
}

/**
 * The model's per-token log-probs of a packed batch and their per-row sums, all on the GPU. With
 * `metrics`, the vocabulary mean of the logits and argmax hits are summed per row too (TRL's
 * logits/* and mean_token_accuracy). Records on the tape unless called under noGrad.
 */
export function sequenceForward(e: Engine, d: Gemma2Dims, p: Gemma2Params, batch: PackedRows, opts: { metrics?: boolean } = {}): SequenceOutputs {
  const { R, T } = batch;
  return e.tidy(() => {
    const out = sequenceLogprobs(e, d, p, { B: R, T, ids: batch.ids, attentionMask: batch.attentionMask }, batch.labels, { extras: opts.metrics ?? false });
    const shape = [R, T];
    const weight = e.tensor(batch.tokenWeight, shape, { label: 'sequences.tokenWeight' });
    const mask = e.tensor(batch.mask, shape, { label: 'sequences.mask' });
    const logp = e.view(out.logp, shape, 'sequences.logp');
    const lsp2 = e.view(out.lsp2, shape, 'sequences.lsp2');
    const stats = seqStats(logp, lsp2, weight, mask, out.zmean && out.correct ? { zmean: e.view(out.zmean, shape), correct: e.view(out.correct, shape) } : undefined);
    return { logp, lsp2, stats };
  });
}
