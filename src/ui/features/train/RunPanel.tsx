// The run: the five controls (their names are part of the studio's contract: "Start training",
// "Pause", "Resume", "Step", "Stop"), where the run is — weights upload, reference log-probs,
// optimizer steps, each with %, rate, tokens/s and time left; the GPU memory the engine holds —,
// its checkpoints, its log lines and what went wrong (a lost GPU device included: Resume then
// acquires it again). Controls that cannot act now are disabled, and the reason is said next to them.

import { startBlocker, trainCommands } from '../../engine/training.ts';
import { fmtBytes } from '../../shared/format.ts';
import { ProblemBox } from '../../shared/ProblemBox.tsx';
import { useStudioStore } from '../../store/index.ts';
import { dataSelectors } from '../../store/slices/data/selectors.ts';
import { modelsSelectors } from '../../store/slices/models/selectors.ts';
import type { RunView } from '../../store/slices/runs/initialState.ts';
import { trainActions } from '../../store/slices/train/actions.ts';
import type { ActiveRunView } from '../../store/slices/train/initialState.ts';
import { trainSelectors } from '../../store/slices/train/selectors.ts';
import { canResume, useShownRun } from './useShownRun.ts';

/** Seconds as "42 s", "3 min 5 s", "1 h 2 min". */
export function fmtDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '—';
  const s = Math.round(sec);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

const STATUS_WORDS: Record<RunView['status'], string> = {
  running: 'running',
  paused: 'paused',
  stopped: 'stopped',
  done: 'finished',
  failed: 'failed',
  interrupted: 'interrupted (the page closed while it ran)',
};

export function RunPanel() {
  const active = useStudioStore(trainSelectors.active);
  const run = useShownRun();
  return (
    <section className="card train-run" aria-labelledby="train-run-heading">
      <h3 id="train-run-heading">Run</h3>
      <Controls run={run} />
      {run && <RunLine run={run} active={active?.runId === run.id ? active : null} />}
      {active && <Progress active={active} />}
      {active && <SkippedSteps log={active.log} />}
      <TrainProblemBox />
      {run && <Checkpoints run={run} />}
      {active && active.log.length > 0 && (
        <details className="train-log">
          <summary>Log ({active.log.length} {active.log.length === 1 ? 'line' : 'lines'})</summary>
          <ul>
            {active.log.map((l, i) => (
              <li key={i} className={l.level}>
                {l.message}
              </li>
            ))}
          </ul>
        </details>
      )}
    </section>
  );
}

function Controls({ run }: { run: RunView | null }) {
  const live = useStudioStore(trainSelectors.isLive);
  const canPause = useStudioStore(trainSelectors.canPause);
  const phase = useStudioStore(trainSelectors.phase);
  const runId = useStudioStore(trainSelectors.activeRunId);
  const plan = useStudioStore(trainSelectors.plan);
  // re-render when what startBlocker reads changes
  useStudioStore(dataSelectors.status);
  useStudioStore(modelsSelectors.list);
  const blocker = startBlocker() ?? plan?.refusal ?? null;
  const resumable = canResume(run) ? run : null;
  const canStop = live && runId !== null && phase !== 'stopping';
  return (
    <div className="train-controls">
      <div className="buttons" role="group" aria-label="Run controls">
        <button type="button" className="primary" disabled={live || blocker !== null} aria-describedby="train-blocker" onClick={() => trainCommands.start()}>
          Start training
        </button>
        <button type="button" disabled={!canPause} onClick={() => trainCommands.pause()}>
          Pause
        </button>
        <button type="button" disabled={live || !resumable} onClick={() => resumable && void trainCommands.resume(resumable.id)}>
          Resume
        </button>
        <button type="button" disabled={live || (!resumable && blocker !== null)} onClick={() => trainCommands.step(resumable?.id ?? null)}>
          Step
        </button>
        <button type="button" className="danger-outline" disabled={!canStop} onClick={() => trainCommands.stop()}>
          Stop
        </button>
      </div>
      <p id="train-blocker" className="muted small">
        {live
          ? phase === 'pausing'
            ? 'Pausing: the current step finishes and is saved as a checkpoint.'
            : 'Pause saves a checkpoint after the current step and stops; Stop ends the run without one.'
          : blocker
            ? blocker
            : resumable
              ? `Resume continues ${resumable.name} from its checkpoint at step ${Math.max(...resumable.checkpoints.map((c) => c.step))}; Step takes one more step of it.`
              : 'Start training begins a new run with these settings; Step begins one and pauses after exactly one step.'}
      </p>
    </div>
  );
}

function RunLine({ run, active }: { run: RunView; active: ActiveRunView | null }) {
  const pct = run.totalSteps > 0 ? Math.round((100 * run.step) / run.totalSteps) : 0;
  return (
    <div className="run-line" data-testid="train-run" data-run-id={run.id} data-step={run.step} data-status={run.status}>
      <p>
        <strong>{run.name}</strong> <span className="muted small">({run.id})</span>
      </p>
      <p aria-live="off">
        <span data-testid="train-step">
          Step {run.step} of {run.totalSteps}
        </span>{' '}
        ({pct} %) · {STATUS_WORDS[run.status]}
        {active?.tokensPerSec != null && active.phase === 'training' && <> · {Math.round(active.tokensPerSec).toLocaleString('en-US')} tokens/s</>}
        {active?.etaSec != null && active.phase === 'training' && <> · about {fmtDuration(active.etaSec)} left</>}
        {active?.gpuMemory != null && active.phase === 'training' && (
          <>
            {' '}
            · <span data-testid="train-gpu-memory">GPU memory {fmtBytes(active.gpuMemory.held)} (peak {fmtBytes(active.gpuMemory.peak)})</span>
          </>
        )}
      </p>
      <progress max={100} value={pct} aria-label={`Steps: ${run.step} of ${run.totalSteps}`} />
    </div>
  );
}

function Progress({ active }: { active: ActiveRunView }) {
  const { phase, weights, reference } = active;
  if (phase === 'starting') return <p className="muted">Checking the data and the settings…</p>;
  const showWeights = weights !== null && (phase === 'weights' || weights.percent < 100);
  const showRef = reference !== null && phase === 'reference';
  return (
    <div className="phases">
      {showWeights && (
        <div className="phase">
          <div className="progress-head">
            <span>Uploading the weights to the GPU</span>
            <span>
              {Math.round(weights.percent)} % · {weights.mbPerSec.toFixed(1)} MB/s
            </span>
          </div>
          <progress max={100} value={weights.percent} aria-label="Weights upload" />
        </div>
      )}
      {showRef && (
        <div className="phase">
          <div className="progress-head">
            <span>Reference log-probs ({reference.split === 'train' ? 'training pairs' : 'held-out pairs'})</span>
            <span>
              {reference.cached
                ? 'from the cache'
                : `${Math.round(reference.percent)} % · ${reference.done} of ${reference.total} pairs · ${reference.rate.toFixed(1)} pairs/s · ${Math.round(reference.tokensPerSec).toLocaleString('en-US')} tokens/s · about ${fmtDuration(reference.eta)} left`}
            </span>
          </div>
          <progress max={100} value={reference.percent} aria-label="Reference log-probs" />
        </div>
      )}
    </div>
  );
}

function Checkpoints({ run }: { run: RunView }) {
  if (run.checkpoints.length === 0) {
    return <p className="muted small">No checkpoint yet{run.config.save_steps ? ` (one every ${String(run.config.save_steps)} steps, at the end, and on Pause)` : ' (one on Pause and at the end with save_steps)'}.</p>;
  }
  return (
    <div className="checkpoints">
      <h4>Checkpoints</h4>
      <ul aria-label="Checkpoints">
        {run.checkpoints.map((c) => (
          <li key={c.step}>
            step {c.step}
            {c.bytes > 0 && <span className="muted"> · {fmtBytes(c.bytes)}</span>}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** The worker's log line for a step the trainer skipped (src/engine/worker/training.ts). */
const SKIPPED_LINE = /^step (\d+) skipped: (.*)$/;

/**
 * Steps skipped because something was not finite (trainer.ts: no update is made), said where the
 * run is rather than only in the log, with what to change; three in a row stop the run.
 */
function SkippedSteps({ log }: { log: ActiveRunView['log'] }) {
  const skipped = log.flatMap((l) => {
    const m = l.level === 'warning' ? SKIPPED_LINE.exec(l.message) : null;
    return m ? [{ step: Number(m[1]), why: m[2] }] : [];
  });
  if (skipped.length === 0) return null;
  const steps = skipped.map((s) => s.step);
  const list = steps.length === 1 ? `Step ${steps[0]} was` : `Steps ${steps.slice(0, -1).join(', ')} and ${steps[steps.length - 1]} were`;
  return (
    <p className="note" data-testid="train-skipped">
      {list} skipped, with no update to the weights: something was not a finite number (last: {skipped[skipped.length - 1].why}). Training has most likely diverged: lower learning_rate, set max_grad_norm (e.g. 1.0) or lower beta, then start again. Three skipped steps in a row stop the run.
    </p>
  );
}

/** What stopped the run, or why it could not start. */
function TrainProblemBox() {
  const problem = useStudioStore(trainSelectors.problem);
  const started = useStudioStore(trainSelectors.activeRunId) !== null;
  return <ProblemBox title={started ? 'Training stopped' : 'Training could not start'} problem={problem} onDismiss={() => trainActions.dismissProblem()} testId="train-error" />;
}
