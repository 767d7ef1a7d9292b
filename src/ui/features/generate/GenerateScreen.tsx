// The Generate screen: a prompt answered by the base model and the trained one side by side,
// streamed token by token, with seeded sampling (temperature, top_p, max_new_tokens, seed). The
// trained model is the run whose weights the engine worker holds (the last run, once finished or
// stopped) or, chosen in "Trained answer" when the base has PEFT adapters stored under it (Model
// screen), the base with one of them. Text is rendered as text, never as HTML. State: the generate and heldRun slices;
// commands: src/ui/engine/generation.ts.

import { useShallow } from 'zustand/react/shallow';
import { generateCommands, generateModel, trainedRunFor, trainedSource } from '../../engine/generation.ts';
import { Screen } from '../../shell/Screen.tsx';
import { useStudioStore } from '../../store/index.ts';
import { generateActions } from '../../store/slices/generate/actions.ts';
import type { AnswerView } from '../../store/slices/generate/initialState.ts';
import { generateSelectors } from '../../store/slices/generate/selectors.ts';
import { heldRunSelectors } from '../../store/slices/heldRun/selectors.ts';
import { modelsSelectors } from '../../store/slices/models/selectors.ts';
import { parseSampling, SAMPLING_FIELDS } from './sampling.ts';
import './generate.css';

export function GenerateScreen() {
  return (
    <Screen id="generate">
      <PromptPanel />
      <Answers />
    </Screen>
  );
}

function PromptPanel() {
  const prompt = useStudioStore(generateSelectors.prompt);
  const values = useStudioStore(generateSelectors.values);
  const busy = useStudioStore(generateSelectors.busy);
  const status = useStudioStore(generateSelectors.status);
  const loading = useStudioStore(generateSelectors.loading);
  const problem = useStudioStore(generateSelectors.problem);
  const models = useStudioStore(useShallow(modelsSelectors.sortedList));
  const chosen = useStudioStore(generateSelectors.modelId);
  const held = useStudioStore(heldRunSelectors.run);
  useStudioStore(modelsSelectors.list); // the demo's arrival re-renders the default
  useStudioStore(generateSelectors.trainedChoice); // the choice re-renders the source
  const model = generateModel();
  const trainedRun = model ? trainedRunFor(model.id) : null;
  const adapters = useStudioStore(useShallow(modelsSelectors.adaptersOf(model?.id ?? '')));
  const source = model ? trainedSource(model.id) : null;
  const { problems } = parseSampling(values);
  const blocker = !model ? 'The demo model is still being prepared (Model screen).' : prompt.trim() === '' ? 'Type a prompt.' : Object.keys(problems).length ? 'Correct the sampling setting marked below.' : null;

  return (
    <section className="card" aria-labelledby="gen-prompt-heading" data-testid="generate-prompt">
      <h3 id="gen-prompt-heading">Prompt</h3>
      <div className="gen-models">
        <label className="gen-field">
          <span>Base model</span>
          <select value={chosen ?? model?.id ?? ''} onChange={(e) => generateActions.modelChosen(e.target.value || null)} disabled={busy}>
            {models.length === 0 && <option value="">(no model stored yet)</option>}
            {models.map((m) => (
              <option key={m.id} value={m.id}>{m.isDemo ? `${m.name} (built-in demo)` : m.name}</option>
            ))}
          </select>
        </label>
        {model && adapters.length > 0 && (
          <div className="gen-field">
            {/* for/id, not a wrapping label: the name is "Trained answer" alone, not the chosen option's text too */}
            <label htmlFor="gen-trained-source">Trained answer</label>
            <select id="gen-trained-source" value={source ? (source.kind === 'run' ? 'run' : `adapter:${source.id}`) : 'none'} onChange={(e) => generateActions.trainedChosen(e.target.value)} disabled={busy} data-testid="generate-trained-source">
              {trainedRun && <option value="run">the run's trained weights ({trainedRun})</option>}
              {adapters.map((a) => (
                <option key={a.id} value={`adapter:${a.id}`}>PEFT adapter {a.name} (r {a.r}, α {a.alpha})</option>
              ))}
              <option value="none">none: the base model only</option>
            </select>
          </div>
        )}
        <p className="gen-trained" data-testid="generate-trained-run">
          <span className="muted">Trained model: </span>
          {source?.kind === 'adapter'
            ? `${model?.name} with the PEFT adapter ${source.name} (r ${source.r}, α ${source.alpha}), stored under it on the Model screen`
            : !source && adapters.length > 0
              ? 'none chosen: only the base model answers.'
              : trainedRun
            ? `${trainedRun} (${String(held?.settings.loss_type ?? 'loss')}${held?.lora ? ', LoRA' : ''}, ${held?.step} of ${held?.totalSteps} steps${held?.state === 'stopped' ? ', stopped' : ''})`
            : held && held.state === 'running'
              ? `${held.runId} is still training: its answer comes once it finishes or is paused.`
              : held && (held.state === 'done' || held.state === 'stopped')
                ? `${held.runId} trained another model: choose it as the base to compare.`
                : 'none yet. Train a run (Train screen); its weights answer here until the next run starts.'}
        </p>
      </div>

      <label className="gen-field gen-prompt">
        <span>Prompt</span>
        <textarea value={prompt} rows={3} onChange={(e) => generateActions.promptChanged(e.target.value)} aria-describedby="gen-prompt-help" />
      </label>
      <p className="muted small" id="gen-prompt-help">One user turn; the model's chat template wraps it as in training.</p>

      <fieldset className="gen-sampling">
        <legend>Sampling</legend>
        {SAMPLING_FIELDS.map((f) => (
          <div key={f.name} className="gen-setting">
            <label htmlFor={`gen-${f.name}`}>{f.name}</label>
            <input
              id={`gen-${f.name}`}
              type="number"
              inputMode="decimal"
              step={f.step}
              min={f.min}
              max={f.max}
              value={values[f.name]}
              onChange={(e) => generateActions.valueChanged(f.name, e.target.value)}
              aria-invalid={problems[f.name] ? true : undefined}
              aria-describedby={`gen-${f.name}-help`}
            />
            <p className={`small ${problems[f.name] ? 'gen-invalid' : 'muted'}`} id={`gen-${f.name}-help`}>{problems[f.name] ?? f.help}</p>
          </div>
        ))}
      </fieldset>

      <div className="gen-buttons">
        <button type="button" className="primary" disabled={busy || blocker !== null} aria-describedby={blocker ? 'gen-blocker' : undefined} onClick={() => generateCommands.generate()}>Generate</button>
        {busy && <button type="button" className="danger-outline" disabled={status === 'stopping'} onClick={() => generateCommands.stop()}>{status === 'stopping' ? 'Stopping…' : 'Stop generating'}</button>}
        {blocker && !busy && <span className="muted small" id="gen-blocker">{blocker}</span>}
        {loading !== null && <span className="muted small" data-testid="generate-loading">Loading the base model onto the GPU… {loading.toFixed(0)} %</span>}
      </div>

      {problem && (
        <div className="problem" role="alert" data-testid="generate-problem">
          <p><strong>Generation failed.</strong> {problem.message}{problem.where ? ` (${problem.where})` : ''}</p>
          {problem.hint && <p>What to do: {problem.hint}</p>}
        </div>
      )}
    </section>
  );
}

function Answers() {
  const base = useStudioStore(generateSelectors.base);
  const trained = useStudioStore(generateSelectors.trained);
  const runId = useStudioStore(generateSelectors.runId);
  const adapterName = useStudioStore(generateSelectors.adapterName);
  const promptText = useStudioStore(generateSelectors.promptText);
  const promptTokens = useStudioStore(generateSelectors.promptTokens);
  const status = useStudioStore(generateSelectors.status);
  if (!base && status !== 'starting' && status !== 'loading') return null;
  return (
    <>
      <div className="columns gen-answers" aria-busy={status === 'running' || status === 'loading' || status === 'starting'}>
        <Answer id="base" title="Base model" answer={base} />
        <Answer id="trained" title="Trained model" subtitle={runId ?? (adapterName ? `PEFT adapter ${adapterName}` : undefined)} answer={trained} absent={runId || adapterName ? null : 'No trained run for this base model yet (and no stored adapter chosen): only the base answered.'} />
      </div>
      {promptText && (
        <details className="gen-template" data-testid="generate-template">
          <summary>The prompt as the model reads it ({promptTokens} tokens)</summary>
          <pre>{promptText}</pre>
        </details>
      )}
    </>
  );
}

const FINISH: Record<NonNullable<AnswerView['finish']>, string> = { stop: 'ended at a stop token', length: 'reached max_new_tokens', stopped: 'stopped' };

function Answer({ id, title, subtitle, answer, absent }: { id: 'base' | 'trained'; title: string; subtitle?: string; answer: AnswerView | null; absent?: string | null }) {
  return (
    <section className="card gen-answer" aria-labelledby={`gen-${id}-heading`} data-testid={`answer-${id}`} data-updates={answer?.updates ?? 0} data-done={answer?.done ? 'true' : 'false'} data-finish={answer?.finish ?? ''}>
      <h3 id={`gen-${id}-heading`}>
        {title}
        {subtitle && <span className="muted small"> · {subtitle}</span>}
      </h3>
      {answer ? (
        <>
          <div className="gen-text" data-testid={`answer-${id}-text`}>{answer.text || (answer.done ? '(an empty answer)' : '…')}</div>
          <p className="muted small" data-testid={`answer-${id}-status`}>
            {answer.done ? `${answer.tokens} tokens, ${FINISH[answer.finish ?? 'length']} · ${answer.tokensPerSecond.toFixed(1)} tokens/s` : `${answer.tokens} tokens so far…`}
          </p>
        </>
      ) : (
        <p className="muted">{absent ?? 'Waiting for the base answer…'}</p>
      )}
    </section>
  );
}
