// RunSeries on its own: metrics and per-pair values appended per step, tokens/s and step times
// derived per session, the latest value of each pair, the carried-forward pairs × steps matrix,
// truncation for a resume, and chunks that store and load back to the same series.

import { describe, expect, it } from 'vitest';
import { CHUNK_STEPS, METRIC_KEYS, PAIR_KEYS, RunSeries, type StepInput } from './series.ts';

/** A step of batch `rows`: pair values derived from (step, row) so each is known. */
function step(n: number, rows: number[], elapsedMs: number, tokens: number): StepInput {
  return {
    step: n,
    metrics: { loss: 1 / n, 'rewards/margins': n / 10, num_tokens: tokens, learning_rate: 1e-3, grad_norm: 2 },
    pairs: rows.map((row) => ({ row, margin: n * 100 + row, weight: 1 / (n + row), loss: n - row / 100, reward_chosen: row, reward_rejected: -row, accuracy: true, nonfinite: false })),
    elapsedMs,
  };
}

describe('RunSeries', () => {
  it('keeps metrics by step, derives step time and tokens/s within a session', () => {
    const s = new RunSeries(6);
    s.append(step(1, [0, 1], 500, 100));
    s.append(step(2, [2, 3], 1500, 300));
    expect([...s.steps()]).toEqual([1, 2]);
    expect([...s.column('loss')]).toEqual([1, 0.5]);
    expect([...s.column('step_ms')]).toEqual([500, 1000]);
    expect([...s.column('tokens_per_s')]).toEqual([200, 200]); // 100 tokens / 0.5 s, 200 / 1 s
    expect(Number.isNaN(s.last('logps/chosen'))).toBe(true); // not sent: NaN, not 0
    // a resumed session's first step is timed from its own start
    s.newSession();
    s.append(step(3, [4, 5], 250, 400));
    expect(s.last('step_ms')).toBe(250);
    expect(s.last('tokens_per_s')).toBe(400);
  });

  it("keeps each pair's latest values and its history; a higher row grows the table", () => {
    const s = new RunSeries(3);
    s.append(step(1, [0, 1], 1, 1));
    s.append(step(2, [1, 2], 2, 2));
    expect(s.latest(1, 'margin')).toBe(201);
    expect(s.latestStepOf(0)).toBe(1);
    expect(s.latestStepOf(2)).toBe(2);
    expect(s.latest(0, 'accuracy')).toBe(1);
    expect(s.seenRows()).toBe(3);
    expect(s.history(1, 'margin')).toEqual({ steps: [1, 2], values: [101, 201] });
    s.append(step(3, [7], 3, 3));
    expect(s.rowCount).toBe(8);
    expect(s.latest(7, 'margin')).toBe(307);
    expect(Number.isNaN(s.latest(5, 'margin'))).toBe(true);
  });

  it('the pairs × steps matrix carries each pair forward and samples columns', () => {
    const s = new RunSeries(3);
    s.append(step(1, [0], 1, 1));
    s.append(step(2, [1], 2, 2));
    s.append(step(3, [0, 2], 3, 3));
    s.append(step(4, [1], 4, 4));
    const m = s.matrix('margin', 4); // 3 rows × 4 columns
    const at = (r: number, c: number): number => m[r * 4 + c];
    expect([at(0, 0), at(0, 1), at(0, 2), at(0, 3)]).toEqual([100, 100, 300, 300]);
    expect(Number.isNaN(at(1, 0))).toBe(true);
    expect([at(1, 1), at(1, 2), at(1, 3)]).toEqual([201, 201, 401]);
    expect([at(2, 2), at(2, 3)]).toEqual([302, 302]);
    const two = s.matrix('margin', 2); // column 0 = after step 2, column 1 = after step 4
    expect([two[0], two[1], two[2], two[3]]).toEqual([100, 300, 201, 401]);
  });

  it('truncateTo drops later steps and recomputes the latest values', () => {
    const s = new RunSeries(2);
    s.append(step(1, [0], 1, 1));
    s.append(step(2, [0, 1], 2, 2));
    s.append(step(3, [1], 3, 3));
    s.truncateTo(1);
    expect(s.length).toBe(1);
    expect(s.latest(0, 'margin')).toBe(100);
    expect(s.latestStepOf(1)).toBe(-1);
    s.append(step(2, [1], 2, 2));
    expect([...s.steps()]).toEqual([1, 2]);
  });

  it('chunks store every step and load back equal, across chunk boundaries', () => {
    const s = new RunSeries(4);
    const n = CHUNK_STEPS + 5;
    for (let i = 1; i <= n; i++) s.append(step(i, [i % 4, (i + 1) % 4], i * 10, i * 7));
    expect(s.chunkCount()).toBe(2);
    const back = new RunSeries(4);
    for (let c = 0; c < s.chunkCount(); c++) back.appendChunk(structuredClone(s.chunk(c)));
    expect([...back.steps()]).toEqual([...s.steps()]);
    for (const k of METRIC_KEYS) expect([...back.column(k)]).toEqual([...s.column(k)]);
    for (let r = 0; r < 4; r++) for (const k of PAIR_KEYS) expect(back.latest(r, k)).toEqual(s.latest(r, k));
    expect(back.history(2, 'loss')).toEqual(s.history(2, 'loss'));
  });

  it('a chunk written with fewer keys loads with NaN for the missing ones', () => {
    const s = new RunSeries(1);
    s.append(step(1, [0], 1, 1));
    const c = s.chunk(0);
    const M = METRIC_KEYS.length;
    const old = { ...c, metricKeys: METRIC_KEYS.slice(0, 1), metrics: c.metrics.slice(0, 1), pairKeys: ['margin'], values: new Float32Array([100]) };
    expect(c.metrics.length).toBe(M);
    const back = new RunSeries(1);
    back.appendChunk(old);
    expect(back.last('loss')).toBe(1);
    expect(Number.isNaN(back.last('grad_norm'))).toBe(true);
    expect(back.latest(0, 'margin')).toBe(100);
    expect(Number.isNaN(back.latest(0, 'weight'))).toBe(true);
  });
});
