// The worker's training runs (protocol.ts: startTraining, stopTraining, exportModel): what
// `prefstudio train` (src/cli/train.ts) does, on a model from the weight store and a data file's
// bytes, with events instead of terminal output. The same engine pieces do the work:
//
//   settings      train/config.ts: normalizeTrainConfig (names, types), resolvePreset,
//                 lossConfigFromFlags, trainOptionsFromFlags — the CLI's flag conversions
//   data          data/dataset.ts loadDataset → train/config.ts examplesFromDataset (every row form
//                 validated in data/examples.ts, before any weights load), with the stored model's
//                 tokenizer files (data/tokenizer_files.ts tokenizerForModel)
//   weights       store/load.ts storedWeights → model/load.ts loadGemma2 (trainable f32)
//   reference     train/ref_cache.ts referenceLogps, cached in IndexedDB (database
//                 'prefstudio-cache') under referenceKey(fingerprint of the stored model, …)
//   steps         train/trainer.ts Trainer: each StepRecord goes out as it is (the metrics.jsonl line)
//   LoRA          use_peft: the base loads frozen (16-bit matrices stay 16-bit, load.ts FROZEN_16BIT)
//                 and model/lora.ts createAdapter adds the trainable factors
//   checkpoints   train/checkpoint.ts over IndexedDB (database 'prefstudio-runs', keys under
//                 "<runId>/"): every save_steps steps, at the end, and on saveCheckpoint; a
//                 startTraining with resume continues a run from one, bit for bit
//   export        model/export.ts encodeCheckpointStream over the GPU tensors (gpuTensors, a LoRA
//                 adapter merged) and store/load.ts storedCheckpointInfo; or model/peft.ts's adapter
//
// One run at a time. A run's model stays on the GPU after it finishes or stops, for exportModel,
// and is freed when the next run starts. stopTraining is honoured between steps, between reference
// batches and during the weight upload; startTraining's stopAfter stops after that step, with a
// checkpoint of it.
//
// A lost GPU device ends the running run with a DeviceLostError naming it (the hint says which
// checkpoint it can resume from); gpu.ts drops the lost Engine, so a startTraining with resume
// runs on a new device from the newest checkpoint, the step counter continuing. deleteRun removes
// a run's checkpoints.
//
// pairTokens (train/pair_tokens.ts) reads one pair token by token from the run's weights: queued
// while the run runs and answered between two optimizer steps (as saveCheckpoint), at once when it
// has ended and the weights are still here, refused when they are gone.

import { loadDataset } from '../data/dataset.ts';
import { tokenizerForModel } from '../data/tokenizer_files.ts';
import type { Engine } from '../engine.ts';
import { DeviceLostError, EngineError, LoadError } from '../errors.ts';
import { parseGemma2Config } from '../model/config.ts';
import { encodeCheckpointStream, gpuTensors, type CheckpointInfo, type ExportDtype, type ExportedFile, type StreamedFile } from '../model/export.ts';
import { FROZEN_16BIT, loadGemma2, type LoadedGemma2 } from '../model/load.ts';
import { adapterParamCount, createAdapter, disposeAdapter, targetFeatures, type LoraAdapter } from '../model/lora.ts';
import { encodePeftAdapter, readAdapterF32 } from '../model/peft.ts';
import { kvCheckpointStore, latestCheckpoint, loadCheckpoint, saveCheckpoint, type CheckpointStore, type LoadedCheckpoint } from '../train/checkpoint.ts';
import { valueBytes, type KVBackend } from '../store/kv.ts';
import { createIdbBackend } from '../store/kv_idb.ts';
import { storedCheckpointInfo, storedTokenizerFiles, storedWeights } from '../store/load.ts';
import { getManifest, type ModelManifest } from '../store/manifest.ts';
import { examplesFromDataset, loraConfigFromFlags, lossConfigFromFlags, normalizeTrainConfig, resolvePreset, trainOptionsFromFlags, type TrainSettings } from '../train/config.ts';
import { needsReference } from '../train/losses.ts';
import { digest, referenceKey, referenceLogps } from '../train/ref_cache.ts';
import { planRun, Trainer, type TrainExample } from '../train/trainer.ts';
import type { Tokenizer } from '../data/tokenizer.ts';
import type { LossConfig } from '../train/losses.ts';
import { pairTokens, tokenPieces } from '../train/pair_tokens.ts';
import { deviceLostInfo } from './gpu.ts';
import type { Reply } from './models.ts';
import type { DataFile, ExportModelCommand, PairTokensCommand, StartTrainingCommand } from './protocol.ts';

/** Files of an export, as bytes or produced while written (a shard read one tensor at a time). */
type AnyFile = ExportedFile | StreamedFile;

/** What a run needs from the worker: its Engine and the weight store. */
export interface RunDeps {
  engine(): Promise<Engine>;
  store(): KVBackend;
}

type RunState = 'running' | 'done' | 'stopped' | 'failed';

interface Run {
  id: string;
  modelId: string;
  state: RunState;
  /** trainingStarted was sent: the page knows the runId. */
  announced: boolean;
  /** Aborted by stopTraining (its reason is a RunStopped). */
  stop: AbortController;
  model: LoadedGemma2 | null;
  /** LoRA runs: the trainable factors over the frozen model. */
  adapter: LoraAdapter | null;
  trainer: Trainer | null;
  /** Where its checkpoints go (IndexedDB, keys under "<runId>/"). */
  checkpoints: CheckpointStore;
  /** metrics.jsonl so far (StepRecords as JSON lines), for checkpoints. */
  metrics: string[];
  /** saveCheckpoint commands waiting for the end of the current step. */
  saveRequests: Reply[];
  /** The stored model's tensor list, config.json and tokenizer files, for exportModel. */
  info: CheckpointInfo | null;
  /** The stored model's name (an adapter's base_model_name_or_path). */
  modelName?: string;
  /** Why the weights are gone, once they are. */
  releasedBy?: string;
  /** The Engine it runs on (to tell a lost device from other failures). */
  engine: Engine | null;
  /** Its newest complete checkpoint's step (saved or resumed from), for a lost device's hint. */
  lastCheckpoint: number | null;
  /** What pairTokens reads besides the weights (set once the trainer exists). */
  pairs?: PairContext;
  /** pairTokens commands waiting for the end of the current step. */
  pairRequests?: PairRequest[];
}

interface PairContext {
  examples: readonly TrainExample[];
  loss: LossConfig;
  /** The trainer's reference sums, [2N] (null: the loss has none). */
  reference: Float32Array | null;
  tokenizer: Tokenizer | null;
  /** Optimizer steps taken so far. */
  step: () => number;
}

interface PairRequest {
  cmd: PairTokensCommand;
  reply: Reply;
  done: (err?: unknown) => void;
}

/** Thrown (and used as the abort reason) when a run stops at stopTraining. */
class RunStopped extends Error {
  override name = 'RunStopped';
}

const runs = new Map<string, Run>();
let runCount = 0;
/** Errors that ended a run, with its id (worker.ts puts it on the error event). */
const failedRuns = new WeakMap<object, string>();

/** The run an error ended, if it ended one. */
export function runIdOf(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null ? failedRuns.get(e) : undefined;
}

let cacheKv: KVBackend | null = null;
/** The reference log-probs cache: IndexedDB database 'prefstudio-cache' (apart from the weights). */
const referenceCache = (): KVBackend => (cacheKv ??= createIdbBackend('prefstudio-cache', 'reflogps'));
let runsKv: KVBackend | null = null;
/** Training checkpoints: IndexedDB database 'prefstudio-runs', one key prefix per run. */
const checkpointStore = (runId: string): CheckpointStore => kvCheckpointStore((runsKv ??= createIdbBackend('prefstudio-runs', 'checkpoints')), `${runId}/`);

const isActive = (r: Run): boolean => r.state === 'running';

// ---------------------------------------------------------------------------------------------
// commands

/** Runs a training run to its end (trainingDone), its stop (trainingStopped) or its failure (thrown, tagged with runIdOf). */
export async function startTraining(cmd: StartTrainingCommand, reply: Reply, deps: RunDeps): Promise<void> {
  const active = [...runs.values()].find(isActive);
  if (active) throw new EngineError('startTraining', `run ${active.id} is still running`, 'stop it (stopTraining) or wait for trainingDone before starting another');
  runCount += 1;
  const id = cmd.resume?.runId ?? `run-${runCount}-${Date.now().toString(36)}`;
  const run: Run = { id, modelId: cmd.modelId, state: 'running', announced: false, stop: new AbortController(), model: null, adapter: null, trainer: null, info: null, checkpoints: checkpointStore(id), metrics: [], saveRequests: [], engine: null, lastCheckpoint: null };
  if (runs.has(id)) release(runs.get(id)!, `run ${id} was resumed`);
  runs.set(run.id, run);
  try {
    await execute(run, cmd, reply, deps);
    run.state = 'done';
    await answerPairRequests(run);
  } catch (e) {
    const step = run.trainer?.step ?? 0;
    run.trainer?.dispose();
    run.trainer = null;
    if (e instanceof RunStopped || (run.stop.signal.aborted && run.stop.signal.reason === e)) {
      run.state = 'stopped';
      reply({ type: 'trainingStopped', runId: run.id, step });
      await answerPairRequests(run);
      return;
    }
    run.state = 'failed';
    // a lost device: say so (whatever the failing call threw: a mapAsync abort, a DeviceLostError), and from where the run can resume
    const lost = run.engine ? await deviceLostInfo(run.engine, e instanceof DeviceLostError ? 10_000 : 1000) : null;
    release(run, lost ? 'the GPU device was lost' : 'the run failed');
    await answerPairRequests(run); // each refused: the weights are gone
    if (!run.announced) {
      runs.delete(run.id); // a bad setting or data file: the run never started, and the error is the command's
      throw e;
    }
    const err = lost ? deviceLostError(run, step, lost) : typeof e === 'object' && e !== null ? e : new Error(String(e));
    failedRuns.set(err, run.id);
    throw err;
  }
}

/**
 * The error a run ends with when its device is lost (whatever the failing call threw: a mapAsync
 * abort, the engine's DeviceLostError): how, after which step, and which checkpoint Resume starts from.
 */
function deviceLostError(run: Run, step: number, info: GPUDeviceLostInfo): DeviceLostError {
  const how = info.message ? `${info.reason}: ${info.message.replace(/\.$/, '')}` : info.reason;
  const from = run.lastCheckpoint;
  return new DeviceLostError(
    `run ${run.id}`,
    `the GPU device was lost (${how}); the run stopped after step ${step}`,
    from !== null
      ? `resume it (startTraining with resume {runId: '${run.id}'}): a new device is acquired and the run continues from its newest checkpoint, step ${from}`
      : 'it has no checkpoint to resume from: start it again (with save_steps, a lost device costs at most that many steps)',
  );
}

/** Asks run `runId` to stop; it answers trainingStopped (with its startTraining's requestId). */
export function stopTraining(runId: string): void {
  const run = runs.get(runId);
  if (!run) throw new EngineError('stopTraining', `there is no run '${runId}'`, runs.size ? `the current run is ${[...runs.keys()].join(', ')}` : 'no run has started');
  if (isActive(run) && !run.stop.signal.aborted) run.stop.abort(new RunStopped(`run ${runId} was stopped`));
}

/** Saves a checkpoint of a running run after its current step (answers checkpointSaved then). */
export function requestCheckpoint(runId: string, reply: Reply): void {
  const run = runs.get(runId);
  if (!run) throw new EngineError('saveCheckpoint', `there is no run '${runId}'`, runs.size ? `the current run is ${[...runs.keys()].join(', ')}` : 'no run has started');
  if (!isActive(run)) throw new EngineError('saveCheckpoint', `run ${runId} is not running (${run.state})`, 'checkpoints are saved between steps of a running run; a finished run saved its last one at the end when save_steps was set');
  run.saveRequests.push(reply);
}

/** Removes a run's checkpoints from IndexedDB, complete and unfinished (answers `runDeleted` with the bytes freed). */
export async function deleteRun(runId: string, reply: Reply): Promise<void> {
  const run = runs.get(runId);
  if (run && isActive(run)) throw new EngineError('deleteRun', `run ${runId} is still running`, 'stop it (stopTraining) or wait for trainingDone, then delete it');
  const store = run?.checkpoints ?? checkpointStore(runId);
  const kv = (runsKv ??= createIdbBackend('prefstudio-runs', 'checkpoints'));
  const { steps } = await store.scan();
  let bytes = 0;
  for (const step of steps) {
    const m = (await store.open(step).manifest()) as { blobs?: { bytes?: unknown }[] } | undefined;
    for (const b of m?.blobs ?? []) bytes += typeof b.bytes === 'number' ? b.bytes : 0;
  }
  for (const step of steps) await store.remove(step);
  // what is left under the prefix: unfinished writes (and anything else stored for the run)
  for (const k of await kv.keys(`${runId}/`)) {
    const v = await kv.get(k);
    if (v !== undefined) bytes += valueBytes(v);
    await kv.del(k);
  }
  if (run) run.lastCheckpoint = null;
  reply({ type: 'runDeleted', runId, steps, bytes });
}

/**
 * One pair of run `runId` token by token (answers `pairTokens`): after the current step of a running
 * run, at once for an ended run whose weights the worker holds; an error saying why otherwise.
 */
export async function requestPairTokens(cmd: PairTokensCommand, reply: Reply): Promise<void> {
  const run = runs.get(cmd.runId);
  if (!run) {
    throw new EngineError('pairTokens', `the engine holds no weights of run ${cmd.runId} (the page was reloaded, or another run started and freed them)`, 'the worker holds a run\'s weights from its start until the next run starts or the page reloads: resume this run (Runs screen) to load them from its newest checkpoint, or train it again if it had finished');
  }
  if (isActive(run)) return new Promise<void>((resolve, reject) => (run.pairRequests ??= []).push({ cmd, reply, done: (err) => (err === undefined ? resolve() : reject(err)) }));
  return answerPair(run, cmd, reply);
}

async function answerPair(run: Run, cmd: PairTokensCommand, reply: Reply): Promise<void> {
  const ctx = run.pairs;
  if (!run.model || !run.engine || !ctx) {
    const why = run.releasedBy ?? (run.state === 'running' ? 'they are still loading' : 'the run ended before its first step');
    throw new EngineError('pairTokens', `run ${run.id} has no weights to read the pair from (${why})`, 'the worker holds a run\'s weights from its start until the next run starts or the page reloads: resume this run (Runs screen) to load them from its newest checkpoint, or train it again if it had finished');
  }
  const i = ctx.examples.findIndex((x) => x.row === cmd.row);
  if (i < 0) throw new EngineError('pairTokens', `dataset row ${cmd.row} is not one of run ${run.id}'s ${ctx.examples.length} training pairs`, 'it was dropped (truncation left no completion: see the run\'s log) or lies outside the file');
  const { dims, params } = run.model;
  const tok = ctx.tokenizer;
  const r = await pairTokens(run.engine, dims, params, ctx.examples[i], {
    loss: ctx.loss,
    referenceSums: ctx.reference ? [ctx.reference[2 * i], ctx.reference[2 * i + 1]] : null,
    pieces: tok ? (ids) => tokenPieces(tok, ids) : undefined,
  });
  reply({ type: 'pairTokens', runId: run.id, step: ctx.step(), ...r });
}

/** Answers the queued pairTokens commands (between two steps, and once the run has ended). */
async function answerPairRequests(run: Run): Promise<void> {
  for (const q of (run.pairRequests ?? []).splice(0)) {
    try {
      await answerPair(run, q.cmd, q.reply);
      q.done();
    } catch (err) {
      q.done(err);
    }
  }
}

/** The complete checkpoints of a run in IndexedDB (answers `checkpoints`). */
export async function listCheckpoints(runId: string, reply: Reply): Promise<void> {
  const store = runs.get(runId)?.checkpoints ?? checkpointStore(runId);
  reply({ type: 'checkpoints', runId, steps: (await store.scan()).steps });
}

/** The run's current weights as a Hugging Face checkpoint folder's files (answers `exported`). */
export async function exportModel(cmd: ExportModelCommand, reply: Reply): Promise<void> {
  const run = runs.get(cmd.runId);
  if (!run) throw new EngineError('exportModel', `there is no run '${cmd.runId}'`, 'a run\'s weights are kept until the next run starts: export before starting another');
  if (isActive(run)) throw new EngineError('exportModel', `run ${run.id} is still running`, 'wait for trainingDone, or stop it (stopTraining) and export what it has learned so far');
  if (!run.model || !run.info) {
    throw new EngineError('exportModel', `run ${run.id} has no weights to export (${run.releasedBy ?? (run.state === 'stopped' ? 'it stopped before they loaded' : 'they were never loaded')})`, 'train again and export before starting another run');
  }
  const adapter = run.adapter ? await readAdapterF32(run.adapter) : null;
  let files: AnyFile[];
  if (cmd.kind === 'adapter') {
    if (!adapter) throw new EngineError('exportModel', `run ${run.id} trained the whole model, not a LoRA adapter`, "export kind 'model' (the full weights), or train with use_peft");
    files = encodePeftAdapter(adapter, { dtype: cmd.dtype, baseModel: run.modelName ?? null });
  } else {
    // One tensor read back at a time; a LoRA run's factors merged into the weights they adapt.
    files = encodeCheckpointStream(run.info, gpuTensors(run.model.tensors, adapter), { dtype: cmd.dtype as ExportDtype | undefined });
  }
  // A Blob of each file's pieces: no multi-GB shard has to be one JS array, and the page can
  // download it, write it to a folder, or import it again (new File([blob], path)).
  const blobs = [];
  for (const f of files) blobs.push({ path: f.path, size: f.size, blob: new Blob(('parts' in f ? f.parts : await collect(f.chunks())) as Uint8Array<ArrayBuffer>[]) });
  reply({ type: 'exported', runId: run.id, files: blobs });
}

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const c of chunks) out.push(c);
  return out;
}

// ---------------------------------------------------------------------------------------------
// one run, in the order `prefstudio train` works

async function execute(run: Run, cmd: StartTrainingCommand, reply: Reply, deps: RunDeps): Promise<void> {
  const runId = run.id;
  const checkStop = (): void => {
    if (run.stop.signal.aborted) throw run.stop.signal.reason;
  };
  // Lines before trainingStarted (the preset used, dropped rows) wait for it: the page learns the runId there.
  const early: { level: 'info' | 'warning'; message: string }[] = [];
  const log = (level: 'info' | 'warning', message: string): void => {
    if (run.announced) reply({ type: 'trainingLog', runId, level, message });
    else early.push({ level, message });
  };
  const kv = deps.store();

  // Settings: the given ones, typed and checked, over the preset's.
  const given = normalizeTrainConfig(cmd.config);
  const manifest = await getManifest(kv, cmd.modelId);
  if (!manifest) throw new LoadError(`model '${cmd.modelId}'`, `is not in the ${kv.label}`, 'list the stored models (listModels) and pick one, or import it first');
  const { flags, note } = resolvePreset(given, manifest.parameters);
  if (note) log('info', note);
  const loss = lossConfigFromFlags(flags);
  const trainOpts = { ...trainOptionsFromFlags(flags), loss };
  const lora = loraConfigFromFlags(flags);
  const saveSteps = typeof flags.save_steps === 'number' ? flags.save_steps : null;
  const saveTotalLimit = typeof flags.save_total_limit === 'number' ? flags.save_total_limit : null;
  run.modelName = manifest.name;
  // A resumed run: its checkpoint is read and checked before anything loads.
  let resumed: LoadedCheckpoint | null = null;
  if (cmd.resume) {
    const step = cmd.resume.step ?? (await latestCheckpoint(run.checkpoints));
    if (step === null) throw new EngineError('startTraining', `run ${run.id} has no complete checkpoint in ${run.checkpoints.label}`, 'start it again without resume (set save_steps so that a run can be resumed)');
    resumed = await loadCheckpoint(run.checkpoints.open(step));
    run.lastCheckpoint = resumed.step;
  }
  const stopAfter = cmd.stopAfter;
  if (stopAfter !== undefined && !(Number.isInteger(stopAfter) && stopAfter > (resumed?.step ?? 0))) {
    throw new EngineError('startTraining', `stopAfter must be an integer step after ${resumed ? `the checkpoint's step ${resumed.step}` : '0'}, got ${String(stopAfter)}`, resumed ? `send stopAfter ${resumed.step + 1} for one more step` : 'send stopAfter 1 for one step, or leave it out to train to the end');
  }

  // The data first: a malformed file fails before any weights load.
  run.info = await storedCheckpointInfo(kv, cmd.modelId);
  const cfg = parseGemma2Config(manifest.config, `stored model '${manifest.name}': config.json`);
  const tokenizer = tokenizerForModel(await storedTokenizerFiles(kv, manifest), cfg.V, `stored model '${manifest.name}'`);
  const read = async (file: DataFile | File): Promise<{ examples: TrainExample[]; dropped: { row: number; name: string; reason: string }[] }> => {
    const { name, bytes } = await fileBytes(file);
    const r = examplesFromDataset(await loadDataset(name, bytes), { vocabSize: cfg.V, tokenizer }, loss, flags);
    for (const d of r.dropped.slice(0, 5)) log('warning', `${name}: ${d.name} dropped: ${d.reason}`);
    if (r.dropped.length > 5) log('warning', `${name}: ${r.dropped.length - 5} more rows dropped`);
    return r;
  };
  const { examples, dropped } = await read(cmd.data);
  const evalSet = cmd.evalData ? (await read(cmd.evalData)).examples : null;
  // Every setting checked (loss, optimizer, schedule) before any weights load; the run's plan.
  const plan = planRun(trainOpts, examples.length);
  reply({
    type: 'trainingStarted',
    runId,
    modelId: cmd.modelId,
    totalSteps: plan.totalSteps,
    stepsPerEpoch: plan.stepsPerEpoch,
    examples: examples.length,
    evalExamples: evalSet ? evalSet.length : null,
    dropped,
    settings: flags as TrainSettings,
    ...(resumed ? { resumedFrom: resumed.step } : {}),
    ...(lora ? { adapterParameters: cfg.L * lora.targets.reduce((n, t) => n + lora.r * ((f) => f.inF + f.outF)(targetFeatures(cfg, t)), 0) } : {}),
  });
  run.announced = true;
  for (const x of early) log(x.level, x.message);
  checkStop();
  // Earlier runs' weights make room for this one's.
  for (const r of runs.values()) {
    if (r === run) continue;
    release(r, `run ${runId} started`);
    runs.delete(r.id);
  }

  // The weights: trainable f32 tensors, or a frozen base (16-bit matrices kept 16-bit) under LoRA.
  const e = await deps.engine();
  run.engine = e;
  const source = await storedWeights(kv, cmd.modelId);
  let lastSent = -Infinity;
  run.model = await loadGemma2(e, source, {
    trainable: !lora,
    keep16: lora ? FROZEN_16BIT : false,
    signal: run.stop.signal,
    onProgress: (p) => {
      if (p.phase !== 'upload' || (p.bytesDone < p.bytesTotal && performance.now() - lastSent < 100)) return;
      lastSent = performance.now();
      reply({ type: 'weightsProgress', runId, modelId: cmd.modelId, percent: p.percent, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, mbPerSec: p.mbPerSec });
    },
  });
  checkStop();
  const { dims, params } = run.model;
  if (lora) {
    run.adapter = createAdapter(e, dims, lora, trainOpts.seed);
    params.adapter = run.adapter;
    log('info', `LoRA r=${lora.r} alpha=${lora.alpha} on ${lora.targets.join(', ')}: ${adapterParamCount(run.adapter).toLocaleString('en-US')} trainable parameters over the frozen model`);
  }

  const fingerprint = storedFingerprint(manifest);
  const referenceOf = async (set: TrainExample[], split: 'train' | 'eval'): Promise<Float32Array> => {
    // tokens of the first k pairs (the pass goes in order), as TRL's num_tokens counts them
    const tokensBefore = [0];
    for (const x of set) tokensBefore.push(tokensBefore[tokensBefore.length - 1] + 2 * x.promptIds.length + x.chosenIds.length + x.rejectedIds.length);
    const r = await referenceLogps(e, dims, params, set, {
      cache: referenceCache(),
      key: referenceKey(fingerprint, set, { ldAlpha: loss.ldAlpha }),
      ldAlpha: loss.ldAlpha,
      onProgress: (p) => {
        checkStop(); // thrown out of the pass between two batches
        const tokensPerSec = p.done > 0 ? (tokensBefore[p.done] * p.rate) / p.done : 0; // tokens / (done / rate seconds)
        reply({ type: 'referenceProgress', runId, split, done: p.done, total: p.total, percent: p.percent, rate: p.rate, eta: p.eta, tokensPerSec, cached: false });
      },
      onWarning: (s) => log('warning', s),
    });
    if (r.cached) {
      reply({ type: 'referenceProgress', runId, split, done: set.length, total: set.length, percent: 100, rate: 0, eta: 0, tokensPerSec: 0, cached: true });
      log('info', `reference log-probs (${split}): ${set.length} pairs from the cache`);
    }
    return r.values;
  };
  // A resumed run takes the reference sums it was started with (no second pass, the same numbers).
  const reference = resumed ? resumed.state.reference : needsReference(loss) ? await referenceOf(examples, 'train') : null;
  const evalReference = evalSet && needsReference(loss) ? await referenceOf(evalSet, 'eval') : null;
  checkStop();

  run.trainer = new Trainer(e, dims, params, examples, reference, trainOpts);
  const trainer = run.trainer;
  if (resumed) {
    await trainer.restoreState(resumed.state); // refuses other settings or data, naming them
    run.metrics = [...resumed.metrics];
    log('info', `resumed from ${resumed.label} (step ${resumed.step} of ${trainer.totalSteps})`);
  }
  run.pairs = { examples, loss, reference, tokenizer, step: () => trainer.step };
  const save = async (): Promise<void> => {
    const saved = await saveCheckpoint(run.checkpoints, trainer, { metrics: run.metrics, saveTotalLimit });
    run.lastCheckpoint = saved.step;
    const ev = { type: 'checkpointSaved' as const, runId, step: saved.step, bytes: saved.bytes, removed: saved.removed };
    reply(ev);
    for (const r of run.saveRequests.splice(0)) if (r !== reply) r(ev);
  };

  const evaluate = async (phase: 'before' | 'after'): Promise<void> => {
    if (!evalSet) return;
    const { pairs, ...metrics } = await trainer.evaluate(evalSet, evalReference);
    reply({ type: 'evalResult', runId, phase, step: trainer.step, metrics: Object.fromEntries(Object.entries(metrics).filter(([, v]) => typeof v === 'number').map(([k, v]) => [`eval_${k}`, v as number])), pairs });
  };
  if (!resumed) await evaluate('before');

  const t0 = performance.now();
  while (!trainer.done) {
    await answerPairRequests(run); // between two steps: the weights hold still meanwhile
    checkStop();
    const record = await trainer.trainStep();
    if (record.skipped) log('warning', `step ${record.step} skipped: ${record.skipped}`);
    run.metrics.push(JSON.stringify(record));
    const pool = e.pool.getStats();
    reply({ type: 'trainStep', runId, record, elapsedMs: performance.now() - t0, gpuMemory: { inUse: pool.inUse, held: pool.inUse + pool.free, peak: pool.peak } });
    // stopAfter: this step is the last one asked for (the run's own last step ends as usual, below)
    const stopHere = stopAfter !== undefined && record.step >= stopAfter && !trainer.done;
    const due = saveSteps !== null && record.step % saveSteps === 0 && !trainer.done;
    if (due || stopHere || run.saveRequests.length > 0) await save();
    if (stopHere) throw new RunStopped(`run ${runId} stopped after step ${record.step} (stopAfter)`);
  }
  if (saveSteps !== null || stopAfter !== undefined || run.saveRequests.length > 0) await save();
  checkStop();
  await evaluate('after');
  trainer.dispose();
  run.trainer = null;
  reply({ type: 'trainingDone', runId, steps: trainer.step, elapsedMs: performance.now() - t0 });
}

// ---------------------------------------------------------------------------------------------
// helpers

/** Frees a run's weights and optimizer state (exportModel then says why they are gone). */
function release(run: Run, why: string): void {
  run.trainer?.dispose();
  run.trainer = null;
  if (run.adapter) disposeAdapter(run.adapter);
  run.adapter = null;
  run.model?.dispose();
  run.model = null;
  run.info = null;
  run.releasedBy ??= `they were freed when ${why}`;
}

async function fileBytes(f: DataFile | File): Promise<{ name: string; bytes: Uint8Array }> {
  if (typeof File !== 'undefined' && f instanceof File) return { name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) };
  const d = f as DataFile;
  if (typeof d?.name !== 'string' || !(d.bytes instanceof Uint8Array)) {
    throw new EngineError('startTraining', 'data and evalData must be a File or {name, bytes: Uint8Array}', 'send the file\'s name (its extension picks the reader: .jsonl, .json, .parquet) and its bytes');
  }
  return d;
}

/**
 * The reference cache's model fingerprint for a stored model: its manifest's chunk checksums (the
 * weights' bytes), the tensor table (names, dtypes, shapes, where each lies) and config.json (which
 * changes the numbers too, e.g. rms_norm_eps).
 */
function storedFingerprint(m: ModelManifest): string {
  const lines = [
    JSON.stringify(m.config),
    ...m.tensors.map((t) => `${t.name} ${t.dtype} ${t.shape.join('x')} ${t.file} ${t.offset}`),
    ...m.files.map((f) => `${f.name} ${f.chunks.map((c) => c.checksum).join(',')}`),
  ];
  return `stored:${digest(new TextEncoder().encode(lines.join('\n')))}`;
}

// ---------------------------------------------------------------------------------------------
// read-only access for the worker's other modules

/**
 * The weights of a finished or stopped run that the worker still holds (generation.ts answers with
 * them), or null: no such run, still running, or its weights freed. Read-only: callers must not
 * dispose or train them.
 */
export function getRunModel(runId: string): { dims: LoadedGemma2['dims']; params: LoadedGemma2['params']; modelId: string } | null {
  const run = runs.get(runId);
  if (!run || isActive(run) || !run.model) return null;
  return { dims: run.model.dims, params: run.model.params, modelId: run.modelId };
}
