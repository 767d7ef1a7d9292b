// The pair view's bridge (pairTokens.ts) with the train slice, no worker: an opened pair is asked
// for once per run step — never again while its answer is on its way, nor twice at one step (a
// refusal included) —; answers and refusals land only for the request in flight, a late answer for
// a pair no longer open is dropped, and the same pair keeps its tokens while a newer answer loads.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EngineEvent } from '../../engine/worker/protocol.ts';
import { getStudioState, resetStudioStore } from '../store/index.ts';
import { onPairTokensEvent, pairTokensCommands } from './pairTokens.ts';

const sent: { id: number; body: unknown }[] = [];
vi.mock('./useEngine.ts', () => ({
  sendCommand: (body: unknown) => {
    sent.push({ id: sent.length + 1, body });
    return sent.length;
  },
}));

beforeEach(() => {
  sent.length = 0;
});
afterEach(resetStudioStore);

const view = () => getStudioState().train.pairTokens;
const token = (logp: number) => ({ id: 7, text: ' x', logp, refLogp: null, wpo: logp + 0.5, weight: 1 });
const answer = (requestId: number, step: number): EngineEvent => ({
  type: 'pairTokens', requestId, runId: 'run-1', row: 3, step, promptTokens: 9,
  chosen: [token(-0.5), token(-1)], rejected: [token(-2)], reference: 'not-kept', record: { row: 3, nonfinite: false, chosen_logp: -1.5 },
});

describe('pairTokens bridge', () => {
  it('asks once per step, not while an answer is on its way; the answer lands as the slice state', () => {
    pairTokensCommands.request('run-1', 3, 4);
    pairTokensCommands.request('run-1', 3, 4);
    expect(sent.map((s) => s.body)).toEqual([{ type: 'pairTokens', runId: 'run-1', row: 3 }]);
    pairTokensCommands.request('run-1', 3, 5); // the step moved while the answer is on its way
    expect(sent.length).toBe(1);
    expect(onPairTokensEvent(answer(1, 5))).toBe(true);
    expect(view()?.data?.chosen.map((t) => t.logp)).toEqual([-0.5, -1]);
    expect(view()?.requestId).toBeNull();
    pairTokensCommands.request('run-1', 3, 4); // asked at step 4 already
    expect(sent.length).toBe(1);
    pairTokensCommands.request('run-1', 3, 6);
    expect(sent.length).toBe(2);
    expect(view()?.data?.step, 'the tokens stay while newer ones load').toBe(5);
  });

  it('a refusal is shown and not repeated at the same step; another pair drops the first one’s tokens and its late answer', () => {
    pairTokensCommands.request('run-1', 3, 2);
    const refusal: EngineEvent = { type: 'error', requestId: 1, command: 'pairTokens', name: 'EngineError', message: 'the engine holds no weights of run run-1', hint: 'resume the run', where: 'pairTokens' };
    expect(onPairTokensEvent(refusal)).toBe(true);
    expect(view()?.problem).toEqual({ name: 'EngineError', message: 'the engine holds no weights of run run-1', hint: 'resume the run', where: 'pairTokens' });
    pairTokensCommands.request('run-1', 3, 2);
    expect(sent.length).toBe(1);
    pairTokensCommands.request('run-1', 8, 2); // another pair
    expect(view()).toMatchObject({ row: 8, requestId: 2, data: null, problem: null });
    onPairTokensEvent(answer(1, 2)); // the first pair's late answer
    expect(view()?.data).toBeNull();
    pairTokensCommands.close();
    expect(view()).toBeNull();
    expect(onPairTokensEvent({ type: 'error', requestId: 9, command: 'listModels', name: 'E', message: 'm' })).toBe(false);
  });
});
