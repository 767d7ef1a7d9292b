// A run's history on the page: TRL's batch metrics per optimizer step and every pair's per-step
// values, in typed arrays (no objects per value), for the dashboard's charts, the Pairs table, the
// weight histogram and the pairs × steps heatmap, and for the runs store (runStore.ts), which saves
// it in chunks of CHUNK_STEPS steps.
//
//   metrics   column-major Float64Arrays, one per METRIC_KEYS entry, grown by doubling
//   pairs     per step: the dataset rows of its pairs (Int32Array) and their PAIR_KEYS values
//             (Float32Array, B × PAIR_KEYS.length, pair-major) — what the step's batch held
//   latest    per dataset row: its values at the last step that held it, and that step (−1: never)
//
// Nothing here knows React, the store or the worker: the bridge (training.ts) appends what
// trainStep events carry, components read columns. Steps are 1-based (the StepRecord's `step`);
// index i holds the i-th step appended, and a resumed run first drops the steps after its
// checkpoint (truncateTo), so step numbers stay consecutive.

import type { PairField } from '../../engine/ops/pref_loss.ts';

/** TRL's logged batch metrics (StepRecord keys) plus two the page derives. */
export const METRIC_KEYS = [
  'loss', 'rewards/chosen', 'rewards/rejected', 'rewards/margins', 'rewards/accuracies', 'logps/chosen', 'logps/rejected',
  'logits/chosen', 'logits/rejected', 'mean_token_accuracy', 'grad_norm', 'learning_rate', 'epoch', 'num_tokens', 'nonfinite_steps',
  // derived: milliseconds the step took (as the worker timed it), completion + prompt tokens per second
  'step_ms', 'tokens_per_s',
] as const;
export type MetricKey = (typeof METRIC_KEYS)[number];

/** The per-pair fields the page keeps (PairRecord fields, ops/pref_loss.ts PAIR_FIELD_NAMES). */
export const PAIR_KEYS = [
  'weight', 'weight_raw', 'margin', 'reward_chosen', 'reward_rejected', 'loss', 'logit', 'accuracy', 'chosen_logp', 'rejected_logp',
] as const satisfies readonly PairField[];
export type PairKey = (typeof PAIR_KEYS)[number];
export const PAIR_COL: Readonly<Record<PairKey, number>> = Object.fromEntries(PAIR_KEYS.map((k, i) => [k, i])) as Record<PairKey, number>;
const K = PAIR_KEYS.length;
const M = METRIC_KEYS.length;

/** Steps per stored chunk (runStore.ts). */
export const CHUNK_STEPS = 32;

/** What one trainStep event gives the page (a StepRecord's numbers and its pairs). */
export interface StepInput {
  step: number;
  /** StepRecord fields by METRIC_KEYS name (absent ones are NaN). */
  metrics: Partial<Record<string, number>>;
  /** The step's pairs: dataset row and PairRecord fields. */
  pairs: readonly ({ row: number } & Record<string, number | boolean>)[];
  /** Milliseconds since this session's first step started (TrainStepEvent.elapsedMs). */
  elapsedMs: number;
}

/** One stored chunk: steps [first, first + n) of a run (structured-cloneable typed arrays). */
export interface SeriesChunk {
  /** Step number of each step in the chunk. */
  steps: Int32Array;
  /** n × METRIC_KEYS.length, step-major. */
  metrics: Float64Array;
  /** Pairs of each step. */
  counts: Int32Array;
  rows: Int32Array;
  /** rows.length × PAIR_KEYS.length. */
  values: Float32Array;
  /** The key lists the arrays were written with (a later page may keep more fields). */
  metricKeys: readonly string[];
  pairKeys: readonly string[];
}

export class RunSeries {
  /** Steps held. */
  length = 0;
  private stepNo = new Int32Array(64);
  private cols: Float64Array[] = METRIC_KEYS.map(() => new Float64Array(64));
  private pairRows: Int32Array[] = [];
  private pairVals: Float32Array[] = [];
  /** Dataset rows known (grows when a step names a higher row). */
  rowCount: number;
  private latestVals: Float32Array;
  private latestStep: Int32Array;
  /** elapsedMs of the previous step of the same session (null: the next step starts a session). */
  private lastElapsed: number | null = null;
  /** Changes since creation: components redraw when it moves. */
  version = 0;

  constructor(rows: number) {
    this.rowCount = Math.max(1, rows);
    this.latestVals = new Float32Array(this.rowCount * K).fill(NaN);
    this.latestStep = new Int32Array(this.rowCount).fill(-1);
  }

  /** A new session (a start or a resume): the next step's time is its elapsedMs alone. */
  newSession(): void {
    this.lastElapsed = null;
  }

  /** Appends a step (its step_ms and tokens_per_s from the previous step of the session). */
  append(s: StepInput): void {
    const stepMs = s.elapsedMs - (this.lastElapsed ?? 0);
    this.lastElapsed = s.elapsedMs;
    const prevTokens = this.length > 0 ? this.cols[METRIC_INDEX.num_tokens][this.length - 1] : 0;
    const row = METRIC_KEYS.map((k) => {
      if (k === 'step_ms') return stepMs;
      if (k === 'tokens_per_s') return stepMs > 0 ? ((Number(s.metrics.num_tokens) - prevTokens) / stepMs) * 1000 : NaN;
      const v = s.metrics[k];
      return typeof v === 'number' ? v : NaN;
    });
    const rows = new Int32Array(s.pairs.length);
    const vals = new Float32Array(s.pairs.length * K);
    s.pairs.forEach((p, b) => {
      rows[b] = p.row;
      PAIR_KEYS.forEach((k, j) => {
        const v = p[k];
        vals[b * K + j] = typeof v === 'number' ? v : typeof v === 'boolean' ? Number(v) : NaN;
      });
    });
    this.push(s.step, row, rows, vals);
  }

  private push(step: number, metricRow: readonly number[], rows: Int32Array, vals: Float32Array): void {
    if (this.length === this.stepNo.length) {
      this.stepNo = grow(this.stepNo);
      this.cols = this.cols.map(grow);
    }
    const i = this.length++;
    this.stepNo[i] = step;
    for (let m = 0; m < M; m++) this.cols[m][i] = metricRow[m];
    this.pairRows[i] = rows;
    this.pairVals[i] = vals;
    this.noteLatest(i);
    this.version++;
  }

  private noteLatest(i: number): void {
    const rows = this.pairRows[i];
    const vals = this.pairVals[i];
    for (let b = 0; b < rows.length; b++) {
      const r = rows[b];
      if (r >= this.rowCount) this.growRows(r + 1);
      this.latestStep[r] = this.stepNo[i];
      this.latestVals.set(vals.subarray(b * K, b * K + K), r * K);
    }
  }

  private growRows(n: number): void {
    const vals = new Float32Array(n * K).fill(NaN);
    vals.set(this.latestVals);
    const steps = new Int32Array(n).fill(-1);
    steps.set(this.latestStep);
    this.latestVals = vals;
    this.latestStep = steps;
    this.rowCount = n;
  }

  /** Drops every step after `step` (a resume from the checkpoint at `step` sends them again). */
  truncateTo(step: number): void {
    let n = this.length;
    while (n > 0 && this.stepNo[n - 1] > step) n--;
    if (n === this.length) return;
    this.length = n;
    this.pairRows.length = n;
    this.pairVals.length = n;
    this.latestVals.fill(NaN);
    this.latestStep.fill(-1);
    for (let i = 0; i < n; i++) this.noteLatest(i);
    this.version++;
  }

  /** The step numbers (x of every chart). */
  steps(): Float64Array {
    return Float64Array.from(this.stepNo.subarray(0, this.length));
  }

  /** The last step number, or 0. */
  lastStep(): number {
    return this.length > 0 ? this.stepNo[this.length - 1] : 0;
  }

  /** One metric over the steps (a view: copy it before the next append if kept). */
  column(key: MetricKey): Float64Array {
    return this.cols[METRIC_INDEX[key]].subarray(0, this.length);
  }

  /** The last value of a metric, or NaN. */
  last(key: MetricKey): number {
    return this.length > 0 ? this.cols[METRIC_INDEX[key]][this.length - 1] : NaN;
  }

  /** Step i's pairs: their rows and values (pair-major, PAIR_KEYS columns). */
  stepPairs(i: number): { rows: Int32Array; values: Float32Array } {
    return { rows: this.pairRows[i], values: this.pairVals[i] };
  }

  /** A row's value of `key` at the last step that held it (NaN: never seen). */
  latest(row: number, key: PairKey): number {
    return row < this.rowCount ? this.latestVals[row * K + PAIR_COL[key]] : NaN;
  }

  /** The last step that held `row`, or −1. */
  latestStepOf(row: number): number {
    return row < this.rowCount ? this.latestStep[row] : -1;
  }

  /** Rows that some step held. */
  seenRows(): number {
    let n = 0;
    for (let r = 0; r < this.rowCount; r++) if (this.latestStep[r] >= 0) n++;
    return n;
  }

  /** A row's values of `key` at each step that held it. */
  history(row: number, key: PairKey): { steps: number[]; values: number[] } {
    const steps: number[] = [];
    const values: number[] = [];
    const j = PAIR_COL[key];
    for (let i = 0; i < this.length; i++) {
      const rows = this.pairRows[i];
      for (let b = 0; b < rows.length; b++) {
        if (rows[b] !== row) continue;
        steps.push(this.stepNo[i]);
        values.push(this.pairVals[i][b * K + j]);
      }
    }
    return { steps, values };
  }

  /**
   * The pairs × steps matrix of `key` (rows × `columns` cells, row-major), each cell the row's
   * latest value as of that column's step (NaN before the row was first seen). With more steps
   * than columns, column c shows the state after step ⌈(c + 1)·S / columns⌉.
   */
  matrix(key: PairKey, columns: number): Float32Array {
    const S = this.length;
    const C = Math.max(1, Math.min(columns, S));
    const out = new Float32Array(this.rowCount * C).fill(NaN);
    const cur = new Float32Array(this.rowCount).fill(NaN);
    const j = PAIR_COL[key];
    let i = 0;
    for (let c = 0; c < C; c++) {
      const upto = Math.ceil(((c + 1) * S) / C);
      for (; i < upto; i++) {
        const rows = this.pairRows[i];
        const vals = this.pairVals[i];
        for (let b = 0; b < rows.length; b++) if (rows[b] < this.rowCount) cur[rows[b]] = vals[b * K + j];
      }
      for (let r = 0; r < this.rowCount; r++) out[r * C + c] = cur[r];
    }
    return out;
  }

  // ------------------------------------------------------------------ storage (runStore.ts)

  /** Chunks stored: ⌈length / CHUNK_STEPS⌉. */
  chunkCount(): number {
    return Math.ceil(this.length / CHUNK_STEPS);
  }

  /** Chunk c: steps [c·CHUNK_STEPS, …) as typed arrays. */
  chunk(c: number): SeriesChunk {
    const from = c * CHUNK_STEPS;
    const to = Math.min(this.length, from + CHUNK_STEPS);
    const n = Math.max(0, to - from);
    const metrics = new Float64Array(n * M);
    const counts = new Int32Array(n);
    let pairs = 0;
    for (let i = 0; i < n; i++) {
      for (let m = 0; m < M; m++) metrics[i * M + m] = this.cols[m][from + i];
      counts[i] = this.pairRows[from + i].length;
      pairs += counts[i];
    }
    const rows = new Int32Array(pairs);
    const values = new Float32Array(pairs * K);
    let o = 0;
    for (let i = 0; i < n; i++) {
      rows.set(this.pairRows[from + i], o);
      values.set(this.pairVals[from + i], o * K);
      o += counts[i];
    }
    return { steps: this.stepNo.slice(from, to), metrics, counts, rows, values, metricKeys: METRIC_KEYS, pairKeys: PAIR_KEYS };
  }

  /** Appends a stored chunk's steps (keys it lacks read as NaN). */
  appendChunk(ch: SeriesChunk): void {
    const mIdx = METRIC_KEYS.map((k) => ch.metricKeys.indexOf(k));
    const pIdx = PAIR_KEYS.map((k) => ch.pairKeys.indexOf(k));
    const Mc = ch.metricKeys.length;
    const Kc = ch.pairKeys.length;
    let o = 0;
    for (let i = 0; i < ch.steps.length; i++) {
      const n = ch.counts[i];
      const vals = new Float32Array(n * K);
      for (let b = 0; b < n; b++) for (let j = 0; j < K; j++) vals[b * K + j] = pIdx[j] < 0 ? NaN : ch.values[(o + b) * Kc + pIdx[j]];
      this.push(ch.steps[i], mIdx.map((m) => (m < 0 ? NaN : ch.metrics[i * Mc + m])), ch.rows.slice(o, o + n), vals);
      o += n;
    }
  }
}

const METRIC_INDEX = Object.fromEntries(METRIC_KEYS.map((k, i) => [k, i])) as Record<MetricKey, number>;

function grow<T extends Float64Array | Int32Array>(a: T): T {
  const b = new (a.constructor as { new (n: number): T })(a.length * 2);
  b.set(a);
  return b;
}
