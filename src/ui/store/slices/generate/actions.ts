// Generate slice actions: the screen's fields, and the bridge's (src/ui/engine/generation.ts)
// answers from the worker's events.

import { useStudioStore } from '../../index.ts';
import { announceActions } from '../announce/actions.ts';
import type { AnswerView, GenerateProblem, GenerateState, SamplingValues } from './initialState.ts';

type Gen = GenerateState['generate'];

function patch(p: Partial<Gen> | ((g: Gen) => Partial<Gen>)): void {
  useStudioStore.setState((s) => ({ generate: { ...s.generate, ...(typeof p === 'function' ? p(s.generate) : p) } }));
}

const emptyAnswer = (): AnswerView => ({ text: '', tokens: 0, updates: 0, done: false, finish: null, tokensPerSecond: 0 });

export const generateActions = {
  promptChanged(prompt: string): void {
    patch({ prompt });
  },
  valueChanged(name: keyof SamplingValues, value: string): void {
    patch((g) => ({ values: { ...g.values, [name]: value } }));
  },
  modelChosen(modelId: string | null): void {
    patch({ modelId, trainedChoice: null }); // another model: its own default
  },
  /** 'run', 'adapter:<id>' or 'none' (see GenerateState.trainedChoice). */
  trainedChosen(trainedChoice: string): void {
    patch({ trainedChoice });
  },

  /** generate was sent (answers cleared); the trained answer comes from run `runId` or adapter `adapterName`, or none. */
  requested(requestId: number, runId: string | null, adapterName: string | null = null): void {
    patch({ status: 'starting', requestId, runId, adapterName, sides: [], promptText: '', promptTokens: 0, loading: null, base: null, trained: null, problem: null });
  },
  started(sides: ('base' | 'trained')[], promptText: string, promptTokens: number): void {
    patch((g) => ({ status: g.status === 'stopping' ? 'stopping' : 'running', sides, promptText, promptTokens, base: emptyAnswer(), trained: sides.includes('trained') ? emptyAnswer() : null }));
  },
  loading(percent: number): void {
    patch((g) => ({ loading: percent, status: g.status === 'stopping' ? 'stopping' : 'loading' }));
  },
  token(which: 'base' | 'trained', text: string, step: number): void {
    patch((g) => {
      const a = g[which] ?? emptyAnswer();
      return { loading: null, status: g.status === 'loading' ? 'running' : g.status, [which]: { ...a, text, tokens: step + 1, updates: a.updates + 1 } };
    });
  },
  answered(which: 'base' | 'trained', text: string, tokens: number, finish: 'stop' | 'length' | 'stopped', tokensPerSecond: number): void {
    patch((g) => {
      const a = g[which] ?? emptyAnswer();
      const next = { ...g, [which]: { ...a, text, tokens, finish, tokensPerSecond, done: true } };
      const all = next.sides.every((s) => next[s]?.done) || finish === 'stopped';
      return { [which]: next[which], ...(all && { status: 'done' as const, loading: null }) };
    });
    const g = useStudioStore.getState().generate;
    if (g.status === 'done') announceActions.say(g.sides.length > 1 ? 'Both answers are complete.' : 'The answer is complete.');
  },
  stopRequested(): void {
    patch((g) => (g.status === 'idle' || g.status === 'done' || g.status === 'failed' ? {} : { status: 'stopping' }));
  },
  failed(problem: GenerateProblem): void {
    patch({ status: 'failed', problem, loading: null });
  },
};
