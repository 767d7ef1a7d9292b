// The Generate screen's bridge to the engine worker: the generate command (the base model chosen,
// and for the trained answer the held run's weights when that run trained this base and has
// finished or stopped, or a PEFT adapter stored under the base: trainedSource),
// cancelGenerate, and the generation events into the generate slice. useEngine.ts hands events to
// onGenerationEvent; events of an older request are dropped.

import type { EngineEvent } from '../../engine/worker/protocol.ts';
import { parseSampling } from '../features/generate/sampling.ts';
import { getStudioState } from '../store/index.ts';
import { generateActions } from '../store/slices/generate/actions.ts';
import { modelsSelectors } from '../store/slices/models/selectors.ts';
import { sendCommand } from './useEngine.ts';

const COMMANDS = new Set(['generate', 'cancelGenerate']);

/** Takes the generation events into the generate slice; false for every other event. */
export function onGenerationEvent(ev: EngineEvent): boolean {
  if (ev.type === 'error') {
    if (!ev.command || !COMMANDS.has(ev.command)) return false;
    if (ev.command === 'generate' && ev.requestId === getStudioState().generate.requestId) generateActions.failed({ name: ev.name, message: ev.message, where: ev.where, hint: ev.hint });
    return true;
  }
  if (ev.type !== 'generateStarted' && ev.type !== 'generateLoading' && ev.type !== 'generateToken' && ev.type !== 'generateDone') return false;
  if (ev.requestId !== getStudioState().generate.requestId) return true; // an older request's late event
  switch (ev.type) {
    case 'generateStarted':
      generateActions.started(ev.sides, ev.promptText, ev.promptTokens);
      break;
    case 'generateLoading':
      generateActions.loading(ev.percent);
      break;
    case 'generateToken':
      generateActions.token(ev.which, ev.text, ev.step);
      break;
    case 'generateDone':
      generateActions.answered(ev.which, ev.text, ev.tokens, ev.finish, ev.tokensPerSecond);
      break;
  }
  return true;
}

/** The base model Generate uses: the one chosen, else the built-in demo (null: none stored yet). */
export function generateModel(): { id: string; name: string } | null {
  const st = getStudioState();
  const m = st.generate.modelId ? st.models.list.find((x) => x.id === st.generate.modelId) : st.models.list.find((x) => x.isDemo);
  return m ? { id: m.id, name: m.name } : null;
}

/** The held run when it can answer for `modelId` (finished or stopped, trained from it), else null. */
export function trainedRunFor(modelId: string): string | null {
  const run = getStudioState().heldRun.run;
  return run && run.modelId === modelId && (run.state === 'done' || run.state === 'stopped') ? run.runId : null;
}

/** Where the trained answer for `modelId` comes from: the choice made, else the run if it can answer, else the first stored adapter. */
export type TrainedSource = { kind: 'run'; runId: string } | { kind: 'adapter'; id: string; name: string; r: number; alpha: number } | null;

export function trainedSource(modelId: string): TrainedSource {
  const st = getStudioState();
  const runId = trainedRunFor(modelId);
  const adapters = modelsSelectors.adaptersOf(modelId)(st); // by name, as the select lists them
  const adapter = (id: string | undefined): TrainedSource => {
    const a = adapters.find((x) => x.id === id);
    return a ? { kind: 'adapter', id: a.id, name: a.name, r: a.r, alpha: a.alpha } : null;
  };
  const choice = st.generate.trainedChoice;
  if (choice === 'none') return null;
  if (choice === 'run' && runId) return { kind: 'run', runId };
  if (choice?.startsWith('adapter:')) {
    const chosen = adapter(choice.slice('adapter:'.length));
    if (chosen) return chosen;
  }
  return runId ? { kind: 'run', runId } : adapter(adapters[0]?.id);
}

export const generateCommands = {
  /** Answers the prompt with the base model and, when there is one, the trained run or a stored adapter. */
  generate(): void {
    const st = getStudioState();
    const model = generateModel();
    const { settings } = parseSampling(st.generate.values);
    if (!model || !settings || st.generate.prompt.trim() === '') return; // the screen says why and keeps the button off
    const src = trainedSource(model.id);
    const runId = src?.kind === 'run' ? src.runId : null;
    const adapter = src?.kind === 'adapter' ? src : null;
    const requestId = sendCommand({ type: 'generate', modelId: model.id, ...(runId && { runId }), ...(adapter && { adapterId: adapter.id }), prompt: st.generate.prompt, ...settings });
    generateActions.requested(requestId, runId, adapter?.name ?? null);
  },
  stop(): void {
    generateActions.stopRequested();
    sendCommand({ type: 'cancelGenerate' });
  },
};
