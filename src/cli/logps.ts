// `prefstudio logps`: per-token log-probs of preference pairs under a checkpoint, as JSON.
//
// Contract (kept stable; outside checks rely on it):
//   prefstudio logps --model DIR --pairs FILE
//   FILE: {"pairs": [{"prompt": P, "chosen": C, "rejected": R}, ...]} where P/C/R are either token-id
//         arrays (used exactly as given: no template, no <bos>/<eos> added; no tokenizer needed) or
//         strings / message lists (tokenized with the model's tokenizer.json and chat template, as
//         TRL's DPO trainer does: src/engine/data/pairs.ts).
//   stdout: {"pairs": [{"chosen": {"logp": S, "tokens": n, "token_logps": [...], "token_log_sum_p2": [...]},
//                       "rejected": {...}}, ...]}
//   where token_logps[i] = log p(completion token i | prompt, completion[:i]) under the soft-capped
//   logits, logp = Σ token_logps, n = completion length, and token_log_sum_p2[i] = log Σ_v p(v)² of
//   the same next-token distribution (the WPO term). Progress goes to stderr.

import { readFile } from 'node:fs/promises';
import type { Engine } from '../engine/engine.ts';
import { LoadError } from '../engine/errors.ts';
import { loadTokenizer } from '../engine/data/tokenizer.ts';
import { buildPair } from '../engine/data/pairs.ts';
import { dimsFromConfig, tokenLogprobs, type Gemma2Dims, type Gemma2Params } from '../engine/model/gemma2.ts';
import type { OpenedCheckpoint } from '../engine/model/load.ts';

export interface TokenizerFiles {
  tokenizerJson: object | null;
  tokenizerConfig: object | null;
}

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

/** Turns the pairs file's rows into token ids (raw ids as given, text through the tokenizer). */
export function tokenizePairs(file: string, json: unknown, ckpt: OpenedCheckpoint, tk: TokenizerFiles): PairTokens[] {
  const rows = (json as { pairs?: unknown })?.pairs;
  if (!Array.isArray(rows)) throw new LoadError(file, 'must be a JSON object with a "pairs" array', 'write {"pairs": [{"prompt": ..., "chosen": ..., "rejected": ...}]}');
  const V = ckpt.cfg.V;
  const isIds = (x: unknown): x is number[] => Array.isArray(x) && x.every((v) => typeof v === 'number');
  let tokenizer: ReturnType<typeof loadTokenizer> | null = null;
  return rows.map((row, i) => {
    const r = row as Record<string, unknown>;
    if (r && isIds(r.prompt) && isIds(r.chosen) && isIds(r.rejected)) {
      const sides = { prompt: r.prompt, chosen: r.chosen, rejected: r.rejected };
      for (const [key, ids] of Object.entries(sides)) {
        const bad = ids.findIndex((v) => !Number.isInteger(v) || v < 0 || v >= V);
        if (bad >= 0) throw new LoadError(`${file}, pairs[${i}].${key}[${bad}]`, `token id ${ids[bad]} is not an integer in [0, ${V})`, `ids must index the model's vocabulary (vocab_size ${V})`);
      }
      return sides;
    }
    if (!tokenizer) {
      if (!tk.tokenizerJson) throw new LoadError(`${file}, pairs[${i}]`, 'holds text, but the model folder has no tokenizer.json', 'add tokenizer.json (+ tokenizer_config.json) to the model folder, or give token ids');
      tokenizer = loadTokenizer(tk.tokenizerJson, tk.tokenizerConfig ?? undefined);
    }
    const built = buildPair(row, i, tokenizer);
    if ('reason' in built) throw new LoadError(`${file}, pairs[${i}]`, built.reason);
    return { prompt: built.promptIds, chosen: built.chosenIds, rejected: built.rejectedIds };
  });
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
  let json: unknown;
  try {
    json = JSON.parse(await readFile(pairsPath, 'utf8'));
  } catch (err) {
    throw new LoadError(pairsPath, `cannot be read as JSON (${(err as Error).message})`, 'pass a JSON file {"pairs": [...]}');
  }
  const pairs = tokenizePairs(pairsPath, json, ckpt, tk);
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
