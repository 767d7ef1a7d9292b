// The studio's bridge to the engine worker's training runs (protocol.ts: startTraining with resume
// and stopAfter, saveCheckpoint, stopTraining, listCheckpoints, deleteRun and their events) and to the runs kept in
// IndexedDB (runStore.ts). Components call trainCommands / runCommands, never the worker; worker
// events arrive through useEngine.ts's onEvent → onTrainingEvent here, and become train- and
// runs-slice actions plus appends to the run's typed-array series (series.ts).
//
// The run controls, in protocol terms:
//   Start training   startTraining {modelId, data: the data slice's file, config: trainSettings.ts buildConfig}
//   Pause            saveCheckpoint + stopTraining: the worker finishes its step, saves a checkpoint
//                    of it, then stops (trainingStopped) — Resume continues exactly there
//   Resume           startTraining with the run's stored model, data bytes and config and
//                    resume {runId}: the worker continues from the newest checkpoint and the step
//                    counter with it; the page drops the steps it had after that checkpoint (they
//                    come again, bit for bit)
//   Step             a start with stopAfter 1, or a resume from the newest checkpoint K (named:
//                    resume {runId, step: K}) with stopAfter K + 1: the worker takes exactly that
//                    one step, saves its checkpoint and stops (trainingStopped) — paused again
//   Stop             stopTraining: the run ends between steps, without a checkpoint
//   Delete (Runs)    deleteRun: the worker removes the run's checkpoints and answers with the bytes
//                    freed; then the page removes its own records (runStore.ts)
//
// A lost GPU device ends the running run with an error naming DeviceLostError and the run: the Run
// panel shows it (the run is 'failed', its checkpoints kept) with what to do; Resume (or the next
// Start) first sends probe, which re-acquires the device in the worker (a new Engine) and brings
// the GPU panel back, then continues from the newest checkpoint, the step counter going on.
//
// Rendering is throttled: the series grow on every event, while the store hears of steps at most
// once per animation frame — the latest step's numbers (trainActions.stepped, the run's step) and the
// series' `tick` together, one React commit however many steps arrived in the frame (applyPending;
// anything pending is applied before the run ends, fails or another starts, so a step never lands
// after its run's end) — and the history is written to IndexedDB at most once a second (and at once
// when a run ends), so a fast run is not slowed by the page.

import { useEffect } from 'react';
import type { EngineEvent, ErrorEvent, TrainingEvent } from '../../engine/worker/protocol.ts';
import { profileTrainStep, RENDER_PROFILE } from '../shared/renderProfile.ts';
import { getStudioState } from '../store/index.ts';
import { runsActions } from '../store/slices/runs/actions.ts';
import type { RunStatus, RunView } from '../store/slices/runs/initialState.ts';
import { trainActions } from '../store/slices/train/actions.ts';
import type { GpuMemoryView, TrainProblem } from '../store/slices/train/initialState.ts';
import { runStore, type StoredData } from './runStore.ts';
import { CHUNK_STEPS, RunSeries } from './series.ts';
import { buildConfig, lossLabel } from './trainSettings.ts';
import { sendCommand } from './useEngine.ts';

/** The session the page started or resumed (one run at a time, as the worker runs them). */
interface Session {
  requestId: number;
  runId: string | null;
  /** trainingStarted arrived: a failure now ends the run (before, it is the command's refusal). */
  announced: boolean;
  /** 'step': sent with stopAfter, so the run stops after one step, with its checkpoint. */
  mode: 'run' | 'step';
  /** Optimizer steps seen in this session. */
  steps: number;
  resume: boolean;
  // what a new run's record needs once the worker names it
  config: RunView['config'];
  modelId: string;
  modelName: string;
  data: StoredData;
}

let session: Session | null = null;
/** Series of the runs the page has looked at, by run id. */
const seriesById = new Map<string, RunSeries>();
/** Which chunk of each run's series changed first since its last write. */
const dirtyChunk = new Map<string, number>();
let flushTimer: ReturnType<typeof setTimeout> | null = null;
/** IndexedDB writes, one after another (a later meta never lands before an earlier one). */
let writes: Promise<unknown> = Promise.resolve();
let frame = 0;
/** The latest step's store update, waiting for the next frame (or the run's end): applyPending. */
let pendingStep: (() => void) | null = null;
/** A series changed since the store's tick last moved. */
let pendingTick = false;
/** A DeviceLostError arrived: the next start or resume re-acquires the device first (probe). */
let deviceLost = false;
/** deleteRun commands waiting for their runDeleted (bytes freed) or error, by command id. */
const deletes = new Map<number, { resolve: (bytes: number) => void; reject: (e: Error) => void }>();

const TRAINING_COMMANDS = new Set(['startTraining', 'stopTraining', 'saveCheckpoint', 'listCheckpoints', 'deleteRun']);
const TRAINING_EVENTS = new Set<string>(['weightsProgress', 'trainingStarted', 'referenceProgress', 'trainStep', 'evalResult', 'trainingLog', 'trainingDone', 'trainingStopped', 'checkpointSaved', 'checkpoints', 'runDeleted']);

const runOf = (id: string): RunView | undefined => getStudioState().runs.list.find((r) => r.id === id);

function queue<T>(what: string, f: () => Promise<T>): Promise<T | undefined> {
  const p = writes.then(f).catch((e: unknown) => {
    runsActions.failed(`${what}: ${e instanceof Error ? e.message : String(e)}. Nothing else was changed; free some storage (Model screen) and try again.`);
    return undefined;
  });
  writes = p;
  return p;
}

function saveMeta(id: string): void {
  void queue('The run could not be saved in this browser', async () => {
    const r = runOf(id);
    if (r) await runStore.saveMeta(r);
  });
}

/** Patches a run in the store and saves it. */
function updateRun(id: string, p: Partial<RunView> | ((r: RunView) => Partial<RunView>)): void {
  runsActions.patched(id, p);
  saveMeta(id);
}

/** The series changed: the store's tick moves in the next animation frame (with the latest step's numbers). */
function scheduleTick(): void {
  pendingTick = true;
  if (frame !== 0) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    applyPending();
  });
}

/** Applies now what waits for the frame: the latest step's numbers and the tick, in one commit (one task). */
function applyPending(): void {
  if (frame !== 0) {
    cancelAnimationFrame(frame);
    frame = 0;
  }
  const step = pendingStep;
  pendingStep = null;
  step?.();
  if (pendingTick) {
    pendingTick = false;
    trainActions.ticked();
    runsActions.seriesChanged();
  }
}

/** Writes the run's changed history now (and its meta with the bytes it takes). */
function flush(id: string): Promise<unknown> {
  applyPending(); // the meta written below carries the latest step (a hidden page draws no frames)
  const from = dirtyChunk.get(id);
  const s = seriesById.get(id);
  if (from === undefined || !s) return writes;
  dirtyChunk.delete(id);
  return queue('The run\'s metrics could not be saved in this browser', async () => {
    const bytes = await runStore.saveSteps(id, s, from);
    const r = runOf(id);
    if (!r) return;
    runsActions.patched(id, { storedBytes: r.dataBytes + bytes + JSON.stringify(r).length });
    await runStore.saveMeta(runOf(id)!);
  });
}

function markDirty(id: string, stepIndex: number): void {
  const c = Math.floor(stepIndex / CHUNK_STEPS);
  dirtyChunk.set(id, Math.min(dirtyChunk.get(id) ?? c, c));
  if (flushTimer === null) {
    flushTimer = setTimeout(() => {
      flushTimer = null;
      for (const runId of [...dirtyChunk.keys()]) void flush(runId);
    }, 1000);
  }
}

/** The trainer words settings as the CLI's flags (--learning_rate); the studio's fields are their bare TRL names. */
const asFieldNames = (text: string): string => text.replace(/--(?=[a-z][a-z0-9_]*)/g, '');

// `where` 'trainer' names the engine's part, not a file the user knows: the Run panel is the place.
const problemOf = (e: { name: string; message: string; where?: string; hint?: string }): TrainProblem => ({
  name: e.name,
  message: asFieldNames(e.message),
  ...(e.where !== undefined && e.where !== 'trainer' ? { where: e.where } : {}),
  ...(e.hint !== undefined ? { hint: asFieldNames(e.hint) } : {}),
});

// ---------------------------------------------------------------------------------------------
// events

/** Handles a worker event that belongs to training; false for the others (useEngine.ts handles those). */
export function onTrainingEvent(ev: EngineEvent): boolean {
  if (ev.type === 'error') return onError(ev);
  if (!TRAINING_EVENTS.has(ev.type)) return false;
  onRunEvent(ev as TrainingEvent);
  return true;
}

function onRunEvent(ev: TrainingEvent): void {
  const s = session;
  const mine = s !== null && (ev.requestId === s.requestId || (s.runId !== null && ev.runId === s.runId));
  switch (ev.type) {
    case 'checkpoints': {
      // listCheckpoints' answer: what IndexedDB really holds (bytes as last seen saved)
      const r = runOf(ev.runId);
      if (r) updateRun(ev.runId, { checkpoints: ev.steps.map((step) => ({ step, bytes: r.checkpoints.find((c) => c.step === step)?.bytes ?? 0 })) });
      return;
    }
    case 'checkpointSaved':
      updateRun(ev.runId, (r) => ({
        checkpoints: [...r.checkpoints.filter((c) => c.step !== ev.step && !ev.removed.includes(c.step)), { step: ev.step, bytes: ev.bytes }].sort((a, b) => a.step - b.step),
      }));
      return;
    case 'runDeleted': {
      const d = ev.requestId !== undefined ? deletes.get(ev.requestId) : undefined;
      if (d) {
        deletes.delete(ev.requestId!);
        d.resolve(ev.bytes);
      }
      return;
    }
  }
  if (!mine || !s) return; // a late event of an earlier session
  switch (ev.type) {
    case 'trainingStarted':
      s.runId = ev.runId;
      s.announced = true;
      started(s, ev.runId, ev);
      return;
    case 'weightsProgress':
      trainActions.weightsProgressed(ev.runId, ev.percent, ev.mbPerSec);
      return;
    case 'referenceProgress':
      trainActions.referenceProgressed(ev.runId, { split: ev.split, done: ev.done, total: ev.total, percent: ev.percent, rate: ev.rate, eta: ev.eta, tokensPerSec: ev.tokensPerSec, cached: ev.cached });
      return;
    case 'trainStep': {
      const t0 = RENDER_PROFILE ? performance.now() : 0; // bench/studio_render.ts (off: one test)
      stepped(s, ev.runId, ev.record as unknown as StepLike, ev.elapsedMs, ev.gpuMemory);
      if (RENDER_PROFILE) profileTrainStep(t0);
      return;
    }
    case 'trainingLog':
      trainActions.logged(ev.runId, ev.level, ev.message);
      return;
    case 'trainingStopped': {
      const r = runOf(ev.runId);
      const pausing = getStudioState().train.active?.phase === 'pausing' || s.mode === 'step';
      // paused when a checkpoint holds its last step; else stopped (Resume still goes back to the newest one)
      const checkpointed = pausing && r !== undefined && r.checkpoints.some((c) => c.step === ev.step);
      end(ev.runId, checkpointed ? 'paused' : 'stopped', ev.step);
      return;
    }
    case 'trainingDone':
      end(ev.runId, 'done', ev.steps);
      return;
    case 'evalResult':
    case 'exported':
      return;
  }
}

function started(s: Session, runId: string, ev: Extract<TrainingEvent, { type: 'trainingStarted' }>): void {
  const resumedFrom = ev.resumedFrom ?? null;
  if (s.resume) {
    const series = seriesById.get(runId) ?? new RunSeries(ev.examples + ev.dropped.length);
    seriesById.set(runId, series);
    series.truncateTo(resumedFrom ?? 0);
    series.newSession();
    markDirty(runId, series.length);
    updateRun(runId, { status: 'running', step: resumedFrom ?? 0, totalSteps: ev.totalSteps, problem: null });
  } else {
    const rows = ev.examples + ev.dropped.length;
    const run: RunView = {
      id: runId,
      name: `${lossLabel(s.config)} · ${s.data.name}`,
      createdAt: new Date().toISOString(),
      modelId: s.modelId,
      modelName: s.modelName,
      dataName: s.data.name,
      dataBytes: s.data.bytes.length,
      config: s.config,
      settings: { ...ev.settings },
      lossLabel: lossLabel(s.config),
      totalSteps: ev.totalSteps,
      stepsPerEpoch: ev.stepsPerEpoch,
      examples: ev.examples,
      rows,
      status: 'running',
      step: 0,
      checkpoints: [],
      storedBytes: s.data.bytes.length,
      problem: null,
    };
    seriesById.set(runId, new RunSeries(rows));
    runsActions.upserted(run);
    const data = s.data;
    void queue('The run could not be saved in this browser', async () => {
      await runStore.saveData(runId, data);
      await runStore.saveMeta(runOf(runId) ?? run);
    });
  }
  trainActions.started(runId, ev.totalSteps, resumedFrom);
  scheduleTick();
}

/** The numbers of a StepRecord the page keeps. */
type StepLike = { step: number; pairs: ({ row: number } & Record<string, number | boolean>)[] } & Record<string, unknown>;

function stepped(s: Session, runId: string, record: StepLike, elapsedMs: number, gpuMemory: GpuMemoryView): void {
  const series = seriesById.get(runId);
  if (!series) return;
  series.append({ step: record.step, metrics: record as unknown as Record<string, number>, pairs: record.pairs, elapsedMs });
  s.steps += 1;
  markDirty(runId, series.length - 1);
  const r = runOf(runId);
  const total = r?.totalSteps ?? record.step;
  // pace over this session's last (up to) five steps
  const n = Math.min(5, s.steps);
  const ms = series.column('step_ms').subarray(series.length - n);
  const tps = series.column('tokens_per_s').subarray(series.length - n);
  const avgMs = ms.reduce((a, b) => a + b, 0) / n;
  const avgTps = tps.reduce((a, b) => a + b, 0) / n;
  const tokensPerSec = Number.isFinite(avgTps) ? avgTps : null;
  const etaSec = ((total - record.step) * avgMs) / 1000;
  const memory = { inUse: gpuMemory.inUse, held: gpuMemory.held, peak: gpuMemory.peak };
  // to the store with the frame: a later step in the same frame replaces this one
  pendingStep = () => {
    trainActions.stepped(runId, record.step, tokensPerSec, etaSec, memory);
    runsActions.patched(runId, { step: record.step });
  };
  scheduleTick();
}

function end(runId: string, status: Extract<RunStatus, 'paused' | 'stopped' | 'done' | 'failed'>, step: number, problem: TrainProblem | null = null): void {
  // the last steps first (never after the end), all in this task: one commit
  pendingTick = true;
  applyPending();
  trainActions.ended(runId, status, step, problem);
  updateRun(runId, { status, step, problem: problem ? problem.message : null });
  if (session?.runId === runId) session = null;
  void flush(runId);
}

function onError(ev: ErrorEvent): boolean {
  if (ev.name === 'DeviceLostError') deviceLost = true; // also the device's own report (no command), which the GPU panel shows
  const s = session;
  const ofSession = s !== null && (ev.requestId === s.requestId || (ev.runId !== undefined && ev.runId === s.runId));
  if (!ofSession && !(ev.command && TRAINING_COMMANDS.has(ev.command)) && ev.runId === undefined) return false;
  if (ev.command === 'saveCheckpoint' || ev.command === 'stopTraining') {
    // the run ended between the click and the command (its trainingDone / trainingStopped says how)
    return true;
  }
  if (ev.command === 'listCheckpoints') {
    runsActions.failed(`The checkpoints of a run could not be listed: ${ev.message}`);
    return true;
  }
  if (ev.command === 'deleteRun') {
    const d = ev.requestId !== undefined ? deletes.get(ev.requestId) : undefined;
    if (d) {
      deletes.delete(ev.requestId!);
      d.reject(new Error(ev.message));
    }
    return true;
  }
  if (!ofSession || !s) return true; // an earlier session's late failure
  applyPending(); // the steps that arrived before the failure (active.step below)
  if (!s.announced || s.runId === null) {
    session = null;
    trainActions.refused(problemOf(ev));
  } else if (ev.name === 'DeviceLostError') end(s.runId, 'failed', getStudioState().train.active?.step ?? 0, deviceLostProblem(ev, s.runId));
  else end(s.runId, 'failed', getStudioState().train.active?.step ?? 0, problemOf(ev));
  return true;
}

/** A lost device, in the studio's words: what happened and what Resume does (the worker's hint speaks protocol). */
function deviceLostProblem(ev: ErrorEvent, runId: string): TrainProblem {
  const steps = runOf(runId)?.checkpoints.map((c) => c.step) ?? [];
  const from = steps.length > 0 ? Math.max(...steps) : null;
  return {
    ...problemOf(ev),
    hint:
      from !== null
        ? `press Resume: the studio acquires the GPU again and the run continues from its checkpoint at step ${from}, the steps after it computed again with the same numbers. If the device is lost again, use a smaller batch or sequence length, or LoRA`
        : 'the run has no checkpoint yet, so it cannot resume: press Start training to begin it again (save_steps sets how often checkpoints are saved)',
  };
}

/** After a lost device: probe, so the worker acquires a new one (and the GPU panel shows it) before the run starts. */
function reacquire(): void {
  if (!deviceLost) return;
  deviceLost = false;
  sendCommand({ type: 'probe' });
}

// ---------------------------------------------------------------------------------------------
// commands

/** Why Start training cannot start now (no model, data not ready, a bad setting), or null. */
export function startBlocker(): string | null {
  const st = getStudioState();
  const model = st.train.modelId ? st.models.list.find((m) => m.id === st.train.modelId) : st.models.list.find((m) => m.isDemo);
  if (!model) return st.train.modelId ? 'The chosen model is no longer stored: pick another.' : 'The demo model is still being prepared (Model screen).';
  const d = st.data;
  if (!d.source || d.status === 'reading' || d.status === 'tokenizing') return 'The preference file is still being read (Data screen).';
  if (d.status === 'failed') return 'The preference file could not be read: see the Data screen.';
  if (d.issues.length > 0) return `The preference file has malformed rows: fix them or pick another file (Data screen).`;
  if (d.settingsProblem) return `The sequence settings cannot be used: ${d.settingsProblem}`;
  if (d.status !== 'ready') return 'Pick a preference file on the Data screen.';
  return null;
}

export const trainCommands = {
  /** Start training (mode 'step': pause after one optimizer step). */
  start(mode: 'run' | 'step' = 'run'): void {
    const st = getStudioState();
    if (session) return; // one run at a time
    const blocker = startBlocker();
    const model = st.train.modelId ? st.models.list.find((m) => m.id === st.train.modelId) : st.models.list.find((m) => m.isDemo);
    const source = st.data.source;
    if (blocker || !model || !source) {
      trainActions.requested(0, mode);
      trainActions.refused({ name: 'NotReady', message: blocker ?? 'Pick a model and a preference file first.' });
      return;
    }
    const built = buildConfig(st.train.values, st.train.loss, st.data.settings, model.parameters);
    if (!built.config) {
      trainActions.requested(0, mode);
      trainActions.refused({ name: 'SettingError', message: built.problems.map((p) => p.message).join('; '), hint: 'correct the setting named, or clear it to use the preset\'s or the default value' });
      return;
    }
    const data = { name: source.name, bytes: source.bytes };
    reacquire();
    const requestId = sendCommand({ type: 'startTraining', modelId: model.id, data, config: built.config, ...(mode === 'step' ? { stopAfter: 1 } : {}) });
    session = { requestId, runId: null, announced: false, mode, steps: 0, resume: false, config: built.config, modelId: model.id, modelName: model.name, data };
    trainActions.requested(requestId, mode);
  },

  /** Continue run `runId` from its newest checkpoint (mode 'step': for exactly one more step, stopAfter). */
  async resume(runId: string, mode: 'run' | 'step' = 'run'): Promise<void> {
    if (session) return;
    const run = runOf(runId);
    if (!run) return;
    const data = await runStore.data(runId);
    if (!data) {
      trainActions.requested(0, mode, runId, run.step, run.totalSteps);
      trainActions.refused({ name: 'RunDataMissing', message: `The preference file of run ${run.name} is not stored in this browser any more, so it cannot resume.`, hint: 'start a new run' });
      return;
    }
    await runCommands.loadSeries(runId);
    // Step: from the newest checkpoint the page knows of (named, so the worker starts from that one), one step
    const from = run.checkpoints.length > 0 ? Math.max(...run.checkpoints.map((c) => c.step)) : null;
    const one = mode === 'step' && from !== null ? { resume: { runId, step: from }, stopAfter: from + 1 } : { resume: { runId } };
    reacquire();
    const requestId = sendCommand({ type: 'startTraining', modelId: run.modelId, data, config: run.config, ...one });
    session = { requestId, runId, announced: false, mode, steps: 0, resume: true, config: run.config, modelId: run.modelId, modelName: run.modelName, data };
    trainActions.requested(requestId, mode, runId, run.step, run.totalSteps);
  },

  /** One more optimizer step: of the paused or interrupted run `runId`, else of a new run. */
  step(runId: string | null): void {
    if (runId) void trainCommands.resume(runId, 'step');
    else trainCommands.start('step');
  },

  /** Checkpoint after the current step, then stop. */
  pause(): void {
    const runId = session?.runId;
    if (!runId) return;
    trainActions.ending('pausing');
    sendCommand({ type: 'saveCheckpoint', runId });
    sendCommand({ type: 'stopTraining', runId });
  },

  stop(): void {
    const runId = session?.runId;
    if (!runId) return;
    trainActions.ending('stopping');
    sendCommand({ type: 'stopTraining', runId });
  },
};

let loading: Promise<void> | null = null;

export const runCommands = {
  /** Reads the stored runs once per page (a run that was running when the page closed is 'interrupted'). */
  ensureLoaded(): Promise<void> {
    loading ??= (async () => {
      try {
        const list = await runStore.list();
        const fixed = list.map((r) => (r.status === 'running' && session?.runId !== r.id ? { ...r, status: 'interrupted' as const } : r));
        runsActions.loaded(fixed);
        for (const r of fixed) {
          if (r.status !== list.find((x) => x.id === r.id)?.status) saveMeta(r.id);
          // what the worker's checkpoint store really holds (save_total_limit, a crash mid-save)
          if (r.status !== 'done') sendCommand({ type: 'listCheckpoints', runId: r.id });
        }
      } catch (e) {
        runsActions.loaded([]);
        runsActions.failed(`The stored runs could not be read: ${e instanceof Error ? e.message : String(e)}.`);
      }
    })();
    return loading;
  },

  /** A run's history, from memory or IndexedDB. */
  async loadSeries(runId: string): Promise<RunSeries | null> {
    const have = seriesById.get(runId);
    if (have) return have;
    const run = runOf(runId);
    if (!run) return null;
    const s = await runStore.series(runId, run.rows);
    if (!seriesById.has(runId)) seriesById.set(runId, s);
    runsActions.seriesChanged();
    return seriesById.get(runId)!;
  },

  /** The series loaded so far (null: not loaded yet; call loadSeries). */
  series(runId: string): RunSeries | null {
    return seriesById.get(runId) ?? null;
  },

  /** The run's data file (for the pairs' text). */
  async data(runId: string): Promise<StoredData | undefined> {
    if (session?.runId === runId) return session.data;
    return runStore.data(runId);
  },

  /** Deletes a run that is not being trained: its checkpoints (the worker's deleteRun), then its records. */
  async remove(runId: string): Promise<void> {
    if (session?.runId === runId) return;
    runsActions.deleteRequested(runId);
    await flush(runId);
    try {
      // the checkpoints first: a run listed without checkpoints is better than checkpoints nobody lists
      const freed = await new Promise<number>((resolve, reject) => deletes.set(sendCommand({ type: 'deleteRun', runId }), { resolve, reject }));
      const recordBytes = runOf(runId)?.storedBytes ?? 0;
      await runStore.remove(runId);
      seriesById.delete(runId);
      runsActions.deleted(runId, recordBytes + freed);
    } catch (e) {
      runsActions.failed(`Run ${runOf(runId)?.name ?? runId} could not be deleted: ${e instanceof Error ? e.message : String(e)}. Reload the page and try again.`, runId);
    }
  },
};

/** Reads the stored runs when a screen that lists them opens (once per page). */
export function useRunsLoaded(): void {
  useEffect(() => {
    void runCommands.ensureLoaded();
  }, []);
}

/**
 * FOR TESTS ONLY, in development builds (Vite's dev server; a production build drops it): the
 * Chromium tests lose the GPU device (protocol.ts loseDevice, as WebGL's WEBGL_lose_context) to
 * check that a run recovers.
 */
if (import.meta.env.DEV && typeof window !== 'undefined') {
  (window as unknown as { __prefstudioTest?: { loseDevice(): void } }).__prefstudioTest = { loseDevice: () => void sendCommand({ type: 'loseDevice' }) };
}

/** Writes pending history before the page goes away (best effort: IndexedDB may not finish). */
if (typeof window !== 'undefined') {
  window.addEventListener('pagehide', () => {
    for (const id of [...dirtyChunk.keys()]) void flush(id);
  });
}
