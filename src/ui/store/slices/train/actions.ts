// Train slice actions, at module level like the other slices: the Train screen calls the form's
// (model, loss, settings), the bridge (src/ui/engine/training.ts) the run's as the worker answers.
// Outcomes a screen reader user must hear (started, paused, finished, failed) go through the
// announce slice; progress does not (the page shows it, and a per-step message would drown the rest).

import { useStudioStore } from '../../index.ts';
import { announceActions } from '../announce/actions.ts';
import type { PairTokensView } from './initialState.ts';
import type { ActiveRunView, GpuMemoryView, LossChoice, PlanView, ReferenceProgressView, RunPhase, TrainProblem, TrainState } from './initialState.ts';

type Train = TrainState['train'];

function patch(p: Partial<Train> | ((t: Train) => Partial<Train>)): void {
  useStudioStore.setState((s) => ({ train: { ...s.train, ...(typeof p === 'function' ? p(s.train) : p) } }));
}

/** Changes the shown run; nothing when there is none (or `runId` names another). */
function patchActive(p: Partial<ActiveRunView> | ((a: ActiveRunView) => Partial<ActiveRunView>), runId?: string): void {
  patch((t) => {
    const a = t.active;
    if (!a || (runId !== undefined && a.runId !== null && a.runId !== runId)) return {};
    return { active: { ...a, ...(typeof p === 'function' ? p(a) : p) } };
  });
}

/** Log lines kept for the screen (the newest). */
const LOG_LINES = 40;

export const trainActions = {
  modelChosen(modelId: string | null): void {
    patch({ modelId });
  },

  lossChosen(loss: LossChoice): void {
    patch({ loss });
  },

  /** A setting typed ('' clears it back to the preset's or the default). */
  valueChanged(name: string, text: string): void {
    patch((t) => ({ values: { ...t.values, [name]: text } }));
  },

  planned(plan: PlanView | null, planProblem: string | null = null): void {
    patch({ plan, planProblem });
  },

  /** startTraining was sent (a new run, or `runId` resumed from its checkpoint). */
  requested(requestId: number, mode: 'run' | 'step', runId: string | null = null, step = 0, totalSteps: number | null = null): void {
    patch({
      active: { runId, requestId, mode, phase: 'starting', resumedFrom: null, weights: null, reference: null, step, totalSteps, tokensPerSec: null, etaSec: null, gpuMemory: null, log: [], problem: null },
    });
  },

  /** The worker named the run and its plan (trainingStarted). */
  started(runId: string, totalSteps: number, resumedFrom: number | null): void {
    patchActive((a) => ({ runId, totalSteps, resumedFrom, step: resumedFrom ?? a.step, phase: 'weights' }));
    announceActions.say(resumedFrom !== null ? `Training resumed from step ${resumedFrom} of ${totalSteps}.` : `Training started: ${totalSteps} steps.`);
  },

  weightsProgressed(runId: string, percent: number, mbPerSec: number): void {
    patchActive({ phase: 'weights', weights: { percent, mbPerSec } }, runId);
  },

  referenceProgressed(runId: string, r: ReferenceProgressView): void {
    patchActive((a) => ({ phase: a.phase === 'pausing' || a.phase === 'stopping' ? a.phase : 'reference', reference: r }), runId);
  },

  stepped(runId: string, step: number, tokensPerSec: number | null, etaSec: number | null, gpuMemory: GpuMemoryView | null = null): void {
    patchActive((a) => ({ phase: a.phase === 'pausing' || a.phase === 'stopping' ? a.phase : 'training', step, tokensPerSec, etaSec, gpuMemory: gpuMemory ?? a.gpuMemory }), runId);
  },

  logged(runId: string, level: 'info' | 'warning', message: string): void {
    patchActive((a) => ({ log: [...a.log, { level, message }].slice(-LOG_LINES) }), runId);
  },

  /** Pause or Stop was pressed. */
  ending(phase: 'pausing' | 'stopping'): void {
    patchActive({ phase });
  },

  /** The run ended: paused (a checkpoint of its last step), stopped, done or failed. */
  ended(runId: string, phase: Extract<RunPhase, 'paused' | 'stopped' | 'done' | 'failed'>, step: number, problem: TrainProblem | null = null): void {
    patchActive((a) => ({ phase, step: Math.max(step, a.step), problem, etaSec: null }), runId);
    const said: Record<typeof phase, string> = {
      paused: `Training paused at step ${step}; Resume continues from there.`,
      stopped: `Training stopped at step ${step}.`,
      done: `Training finished: ${step} steps.`,
      failed: `Training failed at step ${step}: see the message on the Train screen.`,
    };
    announceActions.say(said[phase]);
  },

  /** startTraining was refused before the run started (bad setting or data): no run. */
  refused(problem: TrainProblem): void {
    patchActive({ phase: 'failed', problem });
    announceActions.say('Training could not start: see the message on the Train screen.');
  },

  dismissProblem(): void {
    patchActive({ problem: null });
  },

  /** A series changed (once per animation frame at most). */
  ticked(): void {
    patch((t) => ({ tick: t.tick + 1 }));
  },

  /** pairTokens was sent for a pair (another pair's tokens are dropped; the same pair's stay while it loads). */
  pairTokensRequested(runId: string, row: number, requestId: number, requestedAt: number): void {
    patch((t) => {
      const same = t.pairTokens?.runId === runId && t.pairTokens.row === row;
      return { pairTokens: { runId, row, requestId, requestedAt, data: same ? t.pairTokens!.data : null, problem: null } };
    });
  },

  /** The answer to request `requestId` (a late answer for a pair no longer open is dropped). */
  pairTokensArrived(requestId: number, data: NonNullable<PairTokensView['data']>): void {
    patch((t) => (t.pairTokens?.requestId === requestId ? { pairTokens: { ...t.pairTokens, requestId: null, data, problem: null } } : {}));
  },

  pairTokensFailed(requestId: number, problem: TrainProblem): void {
    patch((t) => (t.pairTokens?.requestId === requestId ? { pairTokens: { ...t.pairTokens, requestId: null, problem } } : {}));
  },

  pairTokensClosed(): void {
    patch({ pairTokens: null });
  },
};
