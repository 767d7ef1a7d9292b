// Train slice: what the Train screen is set to (model, loss or preset, the settings the user typed,
// by TRL name) and the run it shows — its phase and progress (weights upload, reference pass,
// steps), its log lines and its problem. A run's lasting facts (config, steps done, checkpoints,
// status) are the runs slice's; its per-step numbers live outside the store, in typed arrays
// (src/ui/engine/series.ts), and `tick` moves when they change so the dashboard redraws.
// The bridge (src/ui/engine/training.ts) fills them from the worker's events; what those events
// carry is typed by the protocol itself (type-only imports, erased from the page's bundle).

import type { ReferenceSource, TokenRow } from '../../../../engine/train/pair_tokens.ts';
import type { ErrorEvent, GpuMemory, ReferenceProgressEvent, TrainingLogEvent } from '../../../../engine/worker/protocol.ts';

/** A loss choice as the "Loss" select holds it: a preset ("preset:wpo-hb") or a TRL loss_type ("loss:sigmoid"). */
export type LossChoice = `preset:${string}` | `loss:${string}`;

/** Where a run is. */
export type RunPhase =
  | 'starting' // startTraining sent; data and settings being checked
  | 'weights' // the model uploading to the GPU
  | 'reference' // the reference log-probs pass
  | 'training' // optimizer steps
  | 'pausing' // checkpoint asked for, then stop
  | 'stopping'
  | 'paused' // stopped after a checkpoint of its last step: Resume continues it
  | 'stopped'
  | 'done'
  | 'failed';

/** What failed, where and what to do (an error event's fields). */
export type TrainProblem = Pick<ErrorEvent, 'name' | 'message' | 'where' | 'hint'>;

/** The reference pass's progress: pairs done of total, percent, pairs/s (rate), seconds left (eta), tokens/s, cached. */
export type ReferenceProgressView = Omit<ReferenceProgressEvent, 'type' | 'requestId' | 'runId'>;

/** The engine's GPU buffer pool after the latest step, in bytes: inUse, held, peak (protocol.ts GpuMemory). */
export type GpuMemoryView = GpuMemory;

/** The run the Train screen shows (the running one, or the last one this page started or resumed). */
export interface ActiveRunView {
  /** null until the worker names it (trainingStarted). */
  runId: string | null;
  /** The startTraining command's id (events of this session echo it). */
  requestId: number;
  /** 'step': the run stops after one optimizer step, with its checkpoint (startTraining's stopAfter). */
  mode: 'run' | 'step';
  phase: RunPhase;
  /** The checkpoint step a resumed session started from. */
  resumedFrom: number | null;
  weights: { percent: number; mbPerSec: number } | null;
  reference: ReferenceProgressView | null;
  /** Last step (of the run, counting resumed steps). */
  step: number;
  totalSteps: number | null;
  /** Over the last few steps of this session. */
  tokensPerSec: number | null;
  /** Seconds to the last step at this session's pace. */
  etaSec: number | null;
  /** GPU memory after the latest step of this session. */
  gpuMemory: GpuMemoryView | null;
  log: Pick<TrainingLogEvent, 'level' | 'message'>[];
  problem: TrainProblem | null;
}

/** The memory planner's estimate for the settings shown (bytes by category) and whether it fits. */
export interface PlanView {
  modelName: string;
  mode: 'full' | 'lora';
  /** Sequences per micro-batch (2 per pair) and tokens per sequence the estimate assumes. */
  sequences: number;
  tokens: number;
  /** Bytes by category at the step's busiest moment (`peakPhase`); they add up to `live`. */
  parts: { name: string; bytes: number; what: string }[];
  live: number;
  peakPhase: string;
  /** What the GPU must hold: the buffer pool's peak (buffers come in size classes and are kept). */
  total: number;
  /** Trainable parameters (LoRA: the adapter's). */
  trainable: number;
  /** Why the run cannot run on this adapter, with what to change; null when it fits its limits. */
  refusal: string | null;
  /** Something to know that does not stop the run (e.g. the total against the device's memory). */
  note: string | null;
}

/** One completion token of a pair as the pair view shows it (the worker's pairTokens event). */
export type PairTokenView = TokenRow;

/** The opened pair's tokens: asked for when the pair opens and again when the run's step moves. */
export interface PairTokensView {
  runId: string;
  row: number;
  /** The pairTokens command in flight (null: none). */
  requestId: number | null;
  /** The run's step when it was sent. */
  requestedAt: number | null;
  /** The latest answer (kept while a newer one loads). */
  data: {
    /** Optimizer steps the weights had taken. */
    step: number;
    promptTokens: number;
    chosen: PairTokenView[];
    rejected: PairTokenView[];
    /** Where refLogp comes from: LoRA's base with the adapter off, not kept (full fine-tuning), none (SimPO…). */
    reference: ReferenceSource;
    /** The pair's values from the same forward (PairRecord fields by name). */
    record: Record<string, number | boolean>;
  } | null;
  problem: TrainProblem | null;
}

export interface TrainState {
  train: {
    /** The stored model to train (null: the built-in demo). */
    modelId: string | null;
    loss: LossChoice;
    /** Settings the user typed, by TRL name ('' or absent: the preset's or the trainer's default). */
    values: Record<string, string>;
    plan: PlanView | null;
    /** Why there is no estimate (no model yet, a config.json it cannot read). */
    planProblem: string | null;
    active: ActiveRunView | null;
    /** Moves when a run's series changed (rendering is throttled to animation frames). */
    tick: number;
    /** The opened pair's per-token values (src/ui/engine/pairTokens.ts). */
    pairTokens: PairTokensView | null;
  };
}

/** The one-click demo: the WPO recipe (wpo-hb), scaled for the demo's size by the trainer. */
export const DEFAULT_LOSS: LossChoice = 'preset:wpo-hb';

/**
 * The studio's checkpoint settings (TRL's save_steps default, 500, is longer than a demo run): a
 * checkpoint every 5 steps, the newest 2 kept, so a reload mid-run loses at most 4 steps.
 */
export const DEFAULT_VALUES: Readonly<Record<string, string>> = { save_steps: '5', save_total_limit: '2' };

export const trainInitialState: TrainState = {
  train: { modelId: null, loss: DEFAULT_LOSS, values: { ...DEFAULT_VALUES }, plan: null, planProblem: null, active: null, tick: 0, pairTokens: null },
};
