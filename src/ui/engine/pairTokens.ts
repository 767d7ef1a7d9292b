// The bridge for the pair view's per-token values (protocol.ts pairTokens): the opened pair's
// tokens are asked for when it opens and again when the run's step moves on — at most once per
// step, never while an answer is on its way — and the answer (or the worker's refusal, e.g. when
// it no longer holds the run's weights) becomes train-slice state. useEngine.ts's onEvent hands
// every event to onPairTokensEvent first.

import type { EngineEvent } from '../../engine/worker/protocol.ts';
import { getStudioState } from '../store/index.ts';
import { trainActions } from '../store/slices/train/actions.ts';
import { sendCommand } from './useEngine.ts';

/** Handles pairTokens answers and failures; false for every other event. */
export function onPairTokensEvent(ev: EngineEvent): boolean {
  if (ev.type === 'pairTokens') {
    if (ev.requestId !== undefined) {
      const { step, promptTokens, chosen, rejected, reference, record } = ev;
      trainActions.pairTokensArrived(ev.requestId, { step, promptTokens, chosen, rejected, reference, record });
    }
    return true;
  }
  if (ev.type === 'error' && ev.command === 'pairTokens') {
    if (ev.requestId !== undefined) {
      trainActions.pairTokensFailed(ev.requestId, { name: ev.name, message: ev.message, ...(ev.where !== undefined ? { where: ev.where } : {}), ...(ev.hint !== undefined ? { hint: ev.hint } : {}) });
    }
    return true;
  }
  return false;
}

export const pairTokensCommands = {
  /**
   * Asks for pair `row` of run `runId` as the run stands at step `step`: nothing when its answer is
   * on its way or it was already asked for at this step (a refusal is not repeated either).
   */
  request(runId: string, row: number, step: number): void {
    const cur = getStudioState().train.pairTokens;
    if (cur && cur.runId === runId && cur.row === row && (cur.requestId !== null || cur.requestedAt === step)) return;
    const requestId = sendCommand({ type: 'pairTokens', runId, row });
    trainActions.pairTokensRequested(runId, row, requestId, step);
  },

  /** The pair view closed: its tokens are dropped (a late answer is ignored). */
  close(): void {
    trainActions.pairTokensClosed();
  },
};
