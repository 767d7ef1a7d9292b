// `prefstudio logps`: per-token log-probs of preference pairs under a checkpoint, as JSON.
//
// Contract (kept stable; outside checks rely on it):
//   prefstudio logps --model DIR --pairs FILE [--adapter DIR]
//   --adapter: a PEFT LoRA folder, read and checked before any weights load, applied on top of the
//   model as the forward's LoRA branch (not merged).
//   FILE: {"pairs": [{"prompt": P, "chosen": C, "rejected": R}, ...]} where P/C/R are either token-id
//         arrays (used exactly as given: no template, no <bos>/<eos> added; no tokenizer needed) or
//         strings / message lists (tokenized with the model's tokenizer.json and chat template, as
//         TRL's DPO trainer does: src/engine/data/pairs.ts, default sequence style, no truncation).
//         Rows are validated by src/engine/data/examples.ts; a .jsonl / .parquet dataset works too.
//   stdout: {"pairs": [{"chosen": {"logp": S, "tokens": n, "token_logps": [...], "token_log_sum_p2": [...]},
//                       "rejected": {...}}, ...]}
//   where token_logps[i] = log p(completion token i | prompt, completion[:i]) under the soft-capped
//   logits, logp = Σ token_logps, n = completion length, and token_log_sum_p2[i] = log Σ_v p(v)² of
//   the same next-token distribution (the WPO term). Progress goes to stderr.

import type { Engine } from '../engine/engine.ts';
import { loadDataset } from '../engine/data/dataset.ts';
import { prepareExamples } from '../engine/data/examples.ts';
import { tokenizerForModel, type TokenizerFiles } from '../engine/data/tokenizer_files.ts';
import type { Gemma2Dims, Gemma2Params } from '../engine/model/gemma2.ts';
import { SEQ_FIELD, SEQ_FIELDS } from '../engine/ops/seq_stats.ts';
import { packSequences, sequenceForward } from '../engine/train/sequences.ts';
import type { CliIO } from './args.ts';
import { openAdapterFolder } from './export.ts';
import { attachAdapter, openModelFolder, uploadModel } from './model.ts';
import { readFileBytes } from './read_file.ts';

export type { TokenizerFiles };

export interface SideResult {
  logp: number;
  tokens: number;
  token_logps: number[];
  token_log_sum_p2: number[];
}

export interface PairTokens {
  prompt: number[];
  chosen: number[];
  rejected: number[];
}

/**
 * Reads the pairs file and turns its rows into token ids through the one validation place
 * (engine/data/examples.ts): every malformed row is reported, before any weights load if the caller
 * runs this first (it needs only vocab_size). Raw ids are used as given; text and message rows follow
 * the default sequence style (TRL 0.9.6, the authors'), never truncated: logps scores what it is given.
 */
export async function readLogpsPairs(file: string, vocabSize: number, tk: TokenizerFiles, modelName = 'the model folder'): Promise<PairTokens[]> {
  const ds = await loadDataset(file, await readFileBytes(file, 'pass a JSON file {"pairs": [...]}'));
  const { examples } = prepareExamples(ds.rows, {
    ...ds, tokenizer: tokenizerForModel(tk, vocabSize, modelName), vocabSize, maxLength: null, maxPromptLength: null, maxCompletionLength: null,
  });
  return examples.map((x) => ({ prompt: x.promptIds, chosen: x.chosenIds, rejected: x.rejectedIds }));
}

/**
 * Log-probs of each sequence prompt ‖ completion, `batchSize` sequences per forward, through the
 * engine's sequence pipeline (train/sequences.ts: right padding, TRL's label shift, per-row sums on
 * the GPU). `logp` is the GPU's per-row sum; the per-token values are read at the positions that
 * score completion tokens, in order.
 */
export async function sequenceLogps(e: Engine, d: Gemma2Dims, params: Gemma2Params, seqs: { prompt: number[]; completion: number[]; where: string }[], opts: { batchSize?: number; onProgress?: (done: number, total: number) => void } = {}): Promise<SideResult[]> {
  const out: SideResult[] = [];
  const bs = opts.batchSize ?? 8;
  for (let start = 0; start < seqs.length; start += bs) {
    const group = seqs.slice(start, start + bs);
    const packed = packSequences(group, { where: (i) => group[i].where });
    const r = e.noGrad(() => sequenceForward(e, d, params, packed));
    const [lp, l2, st] = (await e.readMany([r.logp, r.lsp2, r.stats])) as Float32Array[];
    [r.logp, r.lsp2, r.stats].forEach((t) => t.dispose());
    group.forEach((_, b) => {
      const at = (x: Float32Array): number[] => {
        const vals: number[] = [];
        for (let t = b * packed.T; t < (b + 1) * packed.T; t++) if (packed.mask[t]) vals.push(x[t]);
        return vals;
      };
      out.push({ logp: st[b * SEQ_FIELDS + SEQ_FIELD.S], tokens: packed.lengths[b], token_logps: at(lp), token_log_sum_p2: at(l2) });
    });
    opts.onProgress?.(Math.min(start + bs, seqs.length), seqs.length);
  }
  return out;
}

/** `prefstudio logps`: the pairs file is read and validated before any weights load. */
export async function logpsCommand(opts: { model: string; pairs: string; adapter?: string }, io: CliIO): Promise<void> {
  const opened = await openModelFolder(opts.model, io);
  const adapter = opts.adapter === undefined ? null : (await openAdapterFolder(opts.adapter, opened, io)).adapter;
  const pairs = await readLogpsPairs(opts.pairs, opened.ckpt.cfg.V, opened.tokenizerFiles, opened.ckpt.source);
  const m = await uploadModel(opened, io);
  if (adapter) attachAdapter(m, adapter);
  try {
    const seqs = pairs.flatMap((p, i) => [
      { prompt: p.prompt, completion: p.chosen, where: `${opts.pairs}, pairs[${i}]` },
      { prompt: p.prompt, completion: p.rejected, where: `${opts.pairs}, pairs[${i}]` },
    ]);
    const t0 = performance.now();
    const res = await sequenceLogps(m.e, m.dims, m.params, seqs, {
      onProgress: (done, total) => {
        const secs = (performance.now() - t0) / 1000;
        io.log(`reference log-probs: ${done}/${total} sequences (${((100 * done) / total).toFixed(0)}%, ${(done / Math.max(secs, 1e-9)).toFixed(1)} seq/s)`);
      },
    });
    io.stdout(`${JSON.stringify({ pairs: pairs.map((_, i) => ({ chosen: res[2 * i], rejected: res[2 * i + 1] })) })}\n`);
  } finally {
    m.dispose();
  }
}
