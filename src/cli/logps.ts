// `prefstudio logps`: per-token log-probs of preference pairs under a checkpoint, as JSON.
//
// Contract (kept stable; outside checks rely on it):
//   prefstudio logps --model DIR --pairs FILE
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
import { LoadError } from '../engine/errors.ts';
import { loadDataset } from '../engine/data/dataset.ts';
import { prepareExamples } from '../engine/data/examples.ts';
import { tokenizerForModel, type TokenizerFiles } from '../engine/data/tokenizer_files.ts';
import { dimsFromConfig, tokenLogprobs, type Gemma2Dims, type Gemma2Params } from '../engine/model/gemma2.ts';
import type { OpenedCheckpoint } from '../engine/model/load.ts';
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
 * Log-probs of each sequence prompt ‖ completion, batched (right-padded) `batchSize` sequences at a
 * time. Position t of the model predicts token t+1, so completion token i is scored at position
 * |prompt| + i − 1 (TRL's shift); the prompt must therefore be non-empty.
 */
export async function sequenceLogps(e: Engine, d: Gemma2Dims, params: Gemma2Params, seqs: { prompt: number[]; completion: number[]; where: string }[], opts: { batchSize?: number; onProgress?: (done: number, total: number) => void } = {}): Promise<SideResult[]> {
  const out: SideResult[] = [];
  const bs = opts.batchSize ?? 8;
  for (const s of seqs) {
    if (s.prompt.length === 0) throw new LoadError(s.where, 'has an empty prompt: the first completion token would have nothing to be predicted from', 'start the prompt with <bos> (id 2 for Gemma)');
  }
  for (let start = 0; start < seqs.length; start += bs) {
    const group = seqs.slice(start, start + bs);
    const B = group.length;
    const T = Math.max(...group.map((s) => s.prompt.length + s.completion.length));
    const ids = new Int32Array(B * T);
    const attentionMask = new Int32Array(B * T);
    const labelMask = new Int32Array(B * T);
    group.forEach((s, b) => {
      const all = [...s.prompt, ...s.completion];
      all.forEach((id, t) => {
        ids[b * T + t] = id;
        attentionMask[b * T + t] = 1;
        if (t >= s.prompt.length) labelMask[b * T + t] = 1;
      });
    });
    const { logp, lse, lsp2 } = e.noGrad(() => tokenLogprobs(e, d, params, { B, T, ids, attentionMask }, labelMask));
    const [lp, l2] = [await logp.readF32(), await lsp2.readF32()];
    [logp, lse, lsp2].forEach((t) => t.dispose());
    group.forEach((s, b) => {
      const n = s.completion.length;
      const token_logps: number[] = [];
      const token_log_sum_p2: number[] = [];
      for (let i = 0; i < n; i++) {
        const pos = b * T + s.prompt.length + i - 1;
        token_logps.push(lp[pos]);
        token_log_sum_p2.push(l2[pos]);
      }
      out.push({ logp: token_logps.reduce((x, y) => x + y, 0), tokens: n, token_logps, token_log_sum_p2 });
    });
    opts.onProgress?.(Math.min(start + bs, seqs.length), seqs.length);
  }
  return out;
}

export async function logpsCommand(e: Engine, ckpt: OpenedCheckpoint, tk: TokenizerFiles, params: Gemma2Params, pairsPath: string, log: (s: string) => void): Promise<string> {
  const pairs = await readLogpsPairs(pairsPath, ckpt.cfg.V, tk, ckpt.source);
  const seqs = pairs.flatMap((p, i) => [
    { prompt: p.prompt, completion: p.chosen, where: `${pairsPath}, pairs[${i}]` },
    { prompt: p.prompt, completion: p.rejected, where: `${pairsPath}, pairs[${i}]` },
  ]);
  const t0 = performance.now();
  const res = await sequenceLogps(e, dimsFromConfig(ckpt.cfg), params, seqs, {
    onProgress: (done, total) => {
      const secs = (performance.now() - t0) / 1000;
      log(`reference log-probs: ${done}/${total} sequences (${((100 * done) / total).toFixed(0)}%, ${(done / Math.max(secs, 1e-9)).toFixed(1)} seq/s)`);
    },
  });
  return JSON.stringify({ pairs: pairs.map((_, i) => ({ chosen: res[2 * i], rejected: res[2 * i + 1] })) });
}
