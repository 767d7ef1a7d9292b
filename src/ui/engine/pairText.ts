// A run's pairs as text, for the dashboard's Pairs table and a clicked pair's prompt, chosen and
// rejected answers: the run's preference file (from the page's memory or the runs store) read with
// the engine's reader, each row named as every message names it ("line 7") and its fields shown
// as the file holds them — strings as they are, message lists as "role: content" turns, token ids
// as numbers. Always rendered as text by React, never as HTML.

import { loadDataset, rowName, type Dataset } from '../../engine/data/dataset.ts';
import { runCommands } from './training.ts';

export interface PairText {
  name: string;
  prompt: string;
  chosen: string;
  rejected: string;
}

export interface RunPairs {
  /** Rows in the file. */
  count: number;
  text(row: number): PairText;
}

const cache = new Map<string, Promise<RunPairs | null>>();

function field(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return `token ids: ${v.join(' ')}`;
  if (Array.isArray(v)) {
    return v
      .map((m) => (m && typeof m === 'object' && 'content' in m ? `${String((m as { role?: unknown }).role ?? '?')}: ${String((m as { content: unknown }).content)}` : JSON.stringify(m)))
      .join('\n\n');
  }
  return JSON.stringify(v);
}

function pairsOf(ds: Dataset): RunPairs {
  return {
    count: ds.rows.length,
    text(row: number): PairText {
      const r = (ds.rows[row] ?? {}) as Record<string, unknown>;
      const prompt = 'prompt' in r ? field(r.prompt) : '(no prompt column: the prompt is the start the two answers share)';
      return { name: rowName(ds, row), prompt, chosen: field(r.chosen), rejected: field(r.rejected) };
    },
  };
}

/** The run's pairs (null when its file is not stored any more). */
export function runPairs(runId: string): Promise<RunPairs | null> {
  let p = cache.get(runId);
  if (!p) {
    p = (async () => {
      const data = await runCommands.data(runId);
      return data ? pairsOf(await loadDataset(data.name, data.bytes)) : null;
    })();
    cache.set(runId, p);
    p.catch(() => cache.delete(runId));
  }
  return p;
}
