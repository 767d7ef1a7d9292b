// The one typed boundary between the UI and the engine worker (src/engine/worker/worker.ts).
// Commands go UI → worker, events go worker → UI; both are discriminated unions on `type`, so a
// `switch (msg.type)` narrows every field. Only plain, structured-cloneable data crosses: no
// classes, no GPU objects, no functions (File objects are fine: they are structured-cloneable and
// the worker reads them without copying the whole file into the page's memory).
//
// Not here: how either side reacts. The worker owns the engine and the weight store (IndexedDB);
// on the UI side src/ui/engine/useEngine.ts sends commands and hands each event to the bridge that
// turns it into store actions (src/ui/engine/*.ts: dataset, adapters, pairTokens, generation, …);
// store slices import this file's types only (import type), never values.
//
// Ids: every command carries `id` (a number the sender makes unique, e.g. a counter), and every
// event sent because of a command echoes it as `requestId`, so a reply is matched to its request
// even when two of the same kind are in flight. Events no command asked for (a lost device, an
// unhandled rejection) have no requestId. Training events also carry the `runId` of their run
// (RunScoped): a run outlives the command that started it, and a late event of a stopped run must
// not be taken for the next run's.
//
// The device and model commands and what they answer:
//   probe                      → adapter (the WebGPU adapter and device, acquired once) | error
//   listModels                 → models
//   ensureDemo {baseUrl}       → models (after importing the built-in demo if the store lacks it)
//   importModel {files, name?} → importProgress… then importDone + models | importCancelled + models | error
//   cancelImport               → (the running import answers importCancelled, with the import's requestId)
//   deleteModel {modelId}      → models (its PEFT adapters go with it)
//   importAdapter {files, modelId, name?}
//                              → adapterImportProgress… then adapterImported + models | error (one at a time)
//   deleteAdapter {modelId, adapterId} → adapterDeleted + models | error + models
//   saveRunAdapter {runId, name?} → adapterImportProgress… then adapterImported + models | error (a
//                                 finished or stopped LoRA run's adapter, stored under the model it
//                                 trained; shares importAdapter's one-at-a-time)
//
// The training commands (training.ts does the work; one run at a time) and what they answer:
//   startTraining {modelId, data, evalData?, config, resume? {runId, step?}, stopAfter?}
//       → trainingStarted (data and settings checked; nothing loaded yet) → weightsProgress…
//         → referenceProgress… (train, then eval; one event with cached: true when the reference
//         cache has them) → evalResult (before, with evalData) → trainStep… (one per optimizer
//         step) → evalResult (after) → trainingDone
//       | → trainingStopped (at stopTraining, or after step `stopAfter` with its checkpoint)
//       | → error with the runId (the run failed; a bad setting or data row fails the command
//         before trainingStarted, with no runId; a lost GPU device: name DeviceLostError, and
//         startTraining with resume continues the run on a new device from its newest checkpoint)
//       trainingLog events may come in between (preset used, dropped rows, skipped steps), and
//       checkpointSaved (every save_steps steps and at the end when save_steps is set, after step
//       stopAfter, and after the step a saveCheckpoint came during).
//       Every one of them echoes startTraining's id as requestId and names the run's runId.
//   stopTraining {runId}       → (the run stops between steps and answers trainingStopped, with
//                                 startTraining's requestId)
//   saveCheckpoint {runId}     → checkpointSaved (after the run's current step)
//   listCheckpoints {runId}    → checkpoints
//   deleteRun {runId}          → runDeleted {bytes} (its checkpoints removed from IndexedDB; refused
//                                 while the run is running)
//   exportModel {runId, dtype?, kind?} → exported {files: {path, size, blob}} (a Hugging Face checkpoint
//                                 folder, or with kind 'adapter' a LoRA run's PEFT adapter files)
//   pairTokens {runId, row}    → pairTokens {chosen, rejected: per completion token its text, policy
//                                 and reference log-probs and WPO term; the pair's record; step} —
//                                 between two steps of a running run, at once for a paused, stopped
//                                 or finished run whose weights the worker still holds; else an error
//
// The self-check (check.ts) and what it answers:
//   runCheck {which}           → checkStarted (the adapter, the cases) → checkResult… (one per case)
//                                → checkDone (also after cancelCheck, with stopped: true)
//   cancelCheck                → (the running check stops after its current case)
//
// Preview generation (generation.ts) and what it answers:
//   generate {modelId, runId? | adapterId?, prompt, sampling}
//       → generateStarted (the prompt as the model reads it; which answers follow)
//         → generateLoading… (the base model loading, the first time) → per answer, base first:
//         generateToken… (one per new token, with the answer's text so far) → generateDone
//   cancelGenerate             → (the running answer ends after its current token: generateDone
//                                 with finish 'stopped'; no further answer follows)
//
// The Data screen's preview (data.ts; the file read, checked and tokenised here, off the page's thread):
//   previewData {file, modelId, demoBaseUrl, sequence_style, max_length, max_prompt_length}
//       → dataRead (rows, form, malformed rows) → dataProgress… (pairs tokenised, %, pairs/s)
//         → dataPreview (everything the screen shows, cut at the given limits)
//       A newer previewData supersedes it: it stops at its next slice and sends nothing more.
//   previewLengths {previewId, max_length, max_prompt_length}
//       → dataLengths (the last finished preview's pairs cut at these limits; no tokenising)
// Every failure is an `error` event whose `command` says which command failed (and `requestId` which one).
//
// For tests only: loseDevice destroys the worker's GPU device as if it had been lost (as WebGL's
// WEBGL_lose_context lets a page test its recovery); nothing else sends it.

import type { CaseOutcome } from '../check/suite.ts';
import type { DataLengthLimits, DataPreview, DataRead, DataSequenceSettings, LengthsPreview } from '../data/preview.ts';
import type { AdapterDescription } from '../device.ts';
import type { TrainSettings } from '../train/config.ts';
import type { PairRecord } from '../train/metrics.ts';
import type { ReferenceSource, TokenRow } from '../train/pair_tokens.ts';
import type { StepRecord } from '../train/trainer.ts';

// ------------------------------------------------------------------ ids

/** Fields of every command. */
export interface CommandBase {
  /** Chosen by the sender, unique among its commands; echoed as `requestId` by every answering event. */
  id: number;
}

/** Fields of every event. */
export interface EventBase {
  /** The `id` of the command this event answers; absent for events no command asked for. */
  requestId?: number;
}

/** Fields of every event that belongs to a training run (the training commands and events build on this). */
export interface RunScoped {
  /** The run's id, named when it starts; stays the same across the run's commands and events. */
  runId: string;
}

// ------------------------------------------------------------------ commands (UI → worker)

/** Acquire (once) the WebGPU adapter and device and report them with an `adapter` event. */
export interface ProbeCommand extends CommandBase {
  type: 'probe';
}

/** Report every model in the weight store (a `models` event). */
export interface ListModelsCommand extends CommandBase {
  type: 'listModels';
}

/**
 * Import a Hugging Face Gemma-2 checkpoint from the user's files: config.json, model.safetensors or
 * model-0000k-of-0000n.safetensors + model.safetensors.index.json, tokenizer files. Files from a
 * picked folder (webkitdirectory) keep their webkitRelativePath; files in sub-folders are skipped.
 * One import at a time.
 */
export interface ImportModelCommand extends CommandBase {
  type: 'importModel';
  files: File[];
  /** Name shown in the list; default: the folder's name, else "model". */
  name?: string;
}

/** Stop the running import between chunks. What was copied stays: importing the same files resumes. */
export interface CancelImportCommand extends CommandBase {
  type: 'cancelImport';
}

/** Remove a model and all its stored bytes. */
export interface DeleteModelCommand extends CommandBase {
  type: 'deleteModel';
  /** The model's store id (ModelSummary.id). */
  modelId: string;
}

/**
 * Store a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors; other files are
 * ignored) under stored model `modelId`: checked against that model's config.json before anything is
 * written (settings the engine does not compute refused by field name, every factor's shape against
 * the base's weights), the manifest written last (store/adapters.ts). One adapter import at a time.
 */
export interface ImportAdapterCommand extends CommandBase {
  type: 'importAdapter';
  files: File[];
  /** The base model (ModelSummary.id). */
  modelId: string;
  /** Name shown under the model; default: the folder's name, else "adapter". */
  name?: string;
}

/** Remove a stored adapter and its bytes. */
export interface DeleteAdapterCommand extends CommandBase {
  type: 'deleteAdapter';
  modelId: string;
  /** AdapterSummary.id */
  adapterId: string;
}

/**
 * Store the LoRA adapter of a finished or stopped run the worker still holds under the model it
 * trained (as exportModel kind 'adapter' writes it, f32), so it is listed under that model.
 */
export interface SaveRunAdapterCommand extends CommandBase, RunScoped {
  type: 'saveRunAdapter';
  /** Name shown under the model; default: the run's id. */
  name?: string;
}

/**
 * Make sure the built-in demo model is in the store: fetch `${baseUrl}config.json`, the sharded
 * index and the shards it names, and the tokenizer files, and import them if this exact demo is not
 * stored yet (an older demo is replaced). Answers with a `models` event.
 */
export interface EnsureDemoCommand extends CommandBase {
  type: 'ensureDemo';
  /** Absolute URL of the demo's folder, ending in '/', e.g. https://host/demo/model/. */
  baseUrl: string;
}

/** A file's name and bytes (a .jsonl, .json or .parquet preference set). A File works as well. */
export interface DataFile {
  /** Its name: the extension picks the reader, and messages name rows with it ("train.jsonl: line 7"). */
  name: string;
  bytes: Uint8Array;
}

/**
 * Train a stored model (full fine-tuning) on a preference set, as `prefstudio train` does: the data
 * is validated first (every malformed row named), then the weights load from the store, the
 * reference log-probs are computed once (or read from the IndexedDB cache), and the run takes
 * optimizer steps until max_steps / num_train_epochs. One run at a time; the trained weights stay
 * on the GPU for exportModel until the next run starts.
 */
export interface StartTrainingCommand extends CommandBase {
  type: 'startTraining';
  /** The stored model to start from (ModelSummary.id). */
  modelId: string;
  data: DataFile | File;
  /** Held-out pairs: metrics before and after training (evalResult events). */
  evalData?: DataFile | File;
  /**
   * Settings by TRL / transformers name, as `prefstudio train`'s flags (train/config.ts TRAIN_CONFIG):
   * loss_type, loss_weights, use_weighting, wpo_no_clamp, beta, simpo_gamma, label_smoothing,
   * learning_rate, lr_scheduler_type, warmup_ratio, optim, max_steps, per_device_train_batch_size,
   * gradient_accumulation_steps, max_length, seed, preset, … Lists may be arrays or comma-separated
   * strings; unknown names are errors.
   */
  config: TrainSettings;
  /**
   * Continue run `runId` from its newest checkpoint in IndexedDB (or checkpoint `step`) instead of
   * starting afresh: the same model, data and settings are required (anything else is refused,
   * naming it); the run keeps its id and its step counter continues, bit for bit as if it had
   * never stopped.
   */
  resume?: { runId: string; step?: number };
  /**
   * Stop after optimizer step `stopAfter` (the run's step counter: with resume, a step after the
   * checkpoint's): the run saves a checkpoint of that step and ends with trainingStopped {step:
   * stopAfter}, so resuming it continues exactly there (the studio's Step sends the current step
   * + 1). When it is the run's last step the run simply finishes (evaluation after, trainingDone),
   * with a checkpoint of it. An integer >= 1, after a resumed checkpoint's step, else the command
   * fails before trainingStarted.
   */
  stopAfter?: number;
}

/** Save a checkpoint of a running run after its current step (answers checkpointSaved). */
export interface SaveCheckpointCommand extends CommandBase, RunScoped {
  type: 'saveCheckpoint';
}

/** The complete checkpoints of a run stored in IndexedDB (answers checkpoints). */
export interface ListCheckpointsCommand extends CommandBase, RunScoped {
  type: 'listCheckpoints';
}

/** Stop a run between two steps (or during its reference pass); it answers trainingStopped. */
export interface StopTrainingCommand extends CommandBase, RunScoped {
  type: 'stopTraining';
}

/**
 * Remove a run's checkpoints from IndexedDB (database 'prefstudio-runs', keys under "<runId>/"),
 * complete and unfinished ones; answers runDeleted with the bytes freed. Refused while the run is
 * running (stop it first). Weights the worker still holds for it (exportModel, generate) stay until
 * the next run starts. A run with no checkpoints answers runDeleted with 0 bytes.
 */
export interface DeleteRunCommand extends CommandBase, RunScoped {
  type: 'deleteRun';
}

/**
 * FOR TESTS ONLY (recovery from a lost GPU device, as WebGL's WEBGL_lose_context): destroys the
 * worker's GPU device, flagged so that the worker treats it as lost (not as an ordinary destroy).
 * A running run fails with a DeviceLostError event naming it; the next command that needs the GPU
 * creates a new device. No answer of its own (without a device, nothing happens).
 */
export interface LoseDeviceCommand extends CommandBase {
  type: 'loseDevice';
}

/**
 * The trained weights of a finished or stopped run as a Hugging Face checkpoint folder's files
 * (the input model's tensor names and dtypes unless `dtype`; config.json and tokenizer files copied).
 */
export interface ExportModelCommand extends CommandBase, RunScoped {
  type: 'exportModel';
  /** Every tensor in this dtype (default: each tensor's dtype in the stored model; an adapter: f32). */
  dtype?: 'bf16' | 'f16' | 'f32';
  /**
   * 'model' (default): the whole model, a LoRA run's adapter merged into the weights (W + scale·B·A);
   * 'adapter': a LoRA run's PEFT adapter (adapter_model.safetensors + adapter_config.json).
   */
  kind?: 'model' | 'adapter';
}

/**
 * Run the engine's op suite against the float64 CPU references on this GPU (a device of its own,
 * created for the check and destroyed after it): 'quick' = a few small shapes per op, 'full' =
 * every case the test suite runs. One check at a time.
 */
export interface RunCheckCommand extends CommandBase {
  type: 'runCheck';
  which: 'quick' | 'full';
}

/** Stop the running check after its current case (it answers checkDone with stopped: true). */
export interface CancelCheckCommand extends CommandBase {
  type: 'cancelCheck';
}

/**
 * Answer one prompt with the stored model `modelId` (the base) and, with `runId`, with that run's
 * trained weights (a finished or stopped run the worker still holds, trained from `modelId`), one
 * after the other, streaming each token. The prompt is one user turn through the model's chat
 * template. Sampling as `prefstudio generate` (model/generate.ts); both answers use the same seed.
 */
export interface GenerateCommand extends CommandBase {
  type: 'generate';
  modelId: string;
  runId?: string;
  /**
   * Instead of a run: the trained answer comes from `modelId` with this stored PEFT adapter
   * (AdapterSummary.id) applied, as `prefstudio generate --adapter DIR` answers. Not with runId.
   */
  adapterId?: string;
  prompt: string;
  /** Tokens per answer at most (a stop token counts). */
  maxNewTokens: number;
  /** 0 = greedy. */
  temperature: number;
  /** Nucleus threshold in (0, 1]; 1 = off. */
  topP: number;
  seed: number;
}

/** Stop the running generation after its current token. */
export interface CancelGenerateCommand extends CommandBase {
  type: 'cancelGenerate';
}

/**
 * Read, check and tokenise a preference file for the studio's Data screen, with a model's tokenizer,
 * and cut its pairs at the limits (as the trainer would). One at a time: a newer previewData stops
 * this one. Reading failures (not a dataset file, not UTF-8, no rows) are error events; malformed
 * rows are listed in the answer.
 */
export interface PreviewDataCommand extends CommandBase, DataSequenceSettings {
  type: 'previewData';
  file: DataFile | File;
  /** The stored model (ModelSummary.id) whose tokenizer counts; null: the built-in demo model's. */
  modelId: string | null;
  /** Absolute URL of the demo model's folder (as ensureDemo's baseUrl): its tokenizer, when modelId is null. */
  demoBaseUrl: string;
}

/** Cut the last finished preview's pairs at other limits (its sequence_style stays): no tokenising again. */
export interface PreviewLengthsCommand extends CommandBase, DataLengthLimits {
  type: 'previewLengths';
  /** The previewData command's id (its dataPreview's requestId). */
  previewId: number;
}

/**
 * One training pair of a run token by token (train/pair_tokens.ts), under the run's current weights:
 * a running run answers between two optimizer steps (the weights never change mid-computation), a
 * paused, stopped or finished one at once. Refused, saying why and what to do, when the worker no
 * longer holds the run's weights (another run started, the page reloaded, the run failed) or the
 * row is not one of the run's training pairs.
 */
export interface PairTokensCommand extends CommandBase, RunScoped {
  type: 'pairTokens';
  /** The pair's dataset row (0-based, as PairRecord.row). */
  row: number;
}

/** A command as the sender writes it, before the `id` is added (e.g. by useEngine's sendCommand). */
export type CommandBody = WithoutId<Command>;
type WithoutId<C> = C extends Command ? Omit<C, 'id'> : never; // distributes over the union

export type Command =
  | ProbeCommand | ListModelsCommand | ImportModelCommand | CancelImportCommand | DeleteModelCommand | EnsureDemoCommand
  | ImportAdapterCommand | DeleteAdapterCommand | SaveRunAdapterCommand
  | StartTrainingCommand | StopTrainingCommand | ExportModelCommand | SaveCheckpointCommand | ListCheckpointsCommand | DeleteRunCommand | LoseDeviceCommand | PairTokensCommand
  | RunCheckCommand | CancelCheckCommand | GenerateCommand | CancelGenerateCommand
  | PreviewDataCommand | PreviewLengthsCommand;

// ------------------------------------------------------------------ events (worker → UI)

/** The adapter the engine runs on, with the limits it raised and the features it turned on. */
export interface AdapterEvent extends EventBase {
  type: 'adapter';
  info: AdapterDescription;
  /** Device limits as granted (raised to the adapter's maximum), e.g. maxBufferSize. */
  limits: Record<string, number>;
  /** Optional features enabled on the device (shader-f16, subgroups, timestamp-query, …). */
  features: string[];
}

/** A PEFT LoRA adapter stored under a model (store/adapters.ts AdapterManifest, without its chunk table). */
export interface AdapterSummary {
  id: string;
  name: string;
  r: number;
  alpha: number;
  /** Adapted projections: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj. */
  targets: string[];
  /** Elements of every factor (A and B). */
  parameters: number;
  /** Bytes the store holds for it (deleteAdapter frees them). */
  bytes: number;
  importedAt: string; // ISO date
  /** 'import' (the user's files) or the id of the run that trained it (saveRunAdapter). */
  source: string;
}

/** One stored model, as the model list shows it (plain numbers from its manifest and config.json). */
export interface ModelSummary {
  id: string; // store id, e.g. tiny-f32-1shard-1a2b3c4d
  name: string;
  parameters: number; // number of weights (tensor elements)
  dtype: string; // storage dtype(s) of the tensors: "BF16", "F32", "BF16+F32"
  bytes: number; // bytes the store holds for it (tensor chunks + tokenizer files)
  layers: number; // L (num_hidden_layers)
  hidden: number; // C (hidden_size)
  vocab: number; // V (vocab_size)
  importedAt: string; // ISO date
  isDemo: boolean; // the built-in demo (ensureDemo), not a user import
  warnings: string[]; // from the import's validation (ignored / unknown tensors, config notes)
  adapters: AdapterSummary[]; // its stored PEFT adapters, by name
}

/** Every model in the store, by name. Sent after listModels, ensureDemo, an import and a delete. */
export interface ModelsEvent extends EventBase {
  type: 'models';
  models: ModelSummary[];
}

/**
 * The running import's progress. Phases: validate (config, index and every safetensors header are
 * read and checked; nothing is written), then copy (tensor bytes and tokenizer files into the
 * store). MB are 10^6 bytes; mbPerSec is the average since the phase started.
 */
export interface ImportProgressEvent extends EventBase {
  type: 'importProgress';
  phase: 'validate' | 'copy';
  percent: number; // 0…100 of this phase
  bytesDone: number;
  bytesTotal: number;
  mbPerSec: number;
  file?: string; // the file being read or copied
}

/** The import finished: the model is listed (a `models` event follows). */
export interface ImportDoneEvent extends EventBase {
  type: 'importDone';
  /** The new model's store id. */
  modelId: string;
  name: string;
  /** Bytes found already stored and skipped (a resumed or repeated import), 0 for a fresh one. */
  bytesSkipped: number;
}

/** The import stopped at cancelImport. Nothing new is listed; importing the same files resumes. */
export interface ImportCancelledEvent extends EventBase {
  type: 'importCancelled';
}

/** The running adapter import: validate (the files read and checked; nothing written), then copy. */
export interface AdapterImportProgressEvent extends EventBase {
  type: 'adapterImportProgress';
  modelId: string;
  phase: 'validate' | 'copy';
  percent: number;
  bytesDone: number;
  bytesTotal: number;
  file?: string;
}

/** importAdapter or saveRunAdapter is done: the adapter is listed under its model (a `models` event follows). */
export interface AdapterImportedEvent extends EventBase {
  type: 'adapterImported';
  modelId: string;
  adapter: AdapterSummary;
  /** The same files were already stored under this model (as `adapter`): nothing was written. */
  already: boolean;
}

/** deleteAdapter is done (a `models` event follows). */
export interface AdapterDeletedEvent extends EventBase {
  type: 'adapterDeleted';
  modelId: string;
  adapterId: string;
  /** Bytes freed. */
  bytes: number;
}

export type PeftAdapterEvent = AdapterImportProgressEvent | AdapterImportedEvent | AdapterDeletedEvent;

/**
 * Something failed. `name` is the error class (NoAdapterError means WebGPU is unavailable;
 * DeviceLostError means the device is gone; LoadError means a checkpoint file is wrong or missing);
 * `message` says what, `where` which op/file/tensor, `hint` what the user can do. `command` is the
 * command that failed (absent for failures outside any command, e.g. a lost device).
 */
export interface ErrorEvent extends EventBase {
  type: 'error';
  name: string;
  message: string;
  hint?: string;
  where?: string;
  command?: Command['type'];
  /** The run the failure stopped, when it happened in a training run. */
  runId?: string;
}

// ------------------------------------------------------------------ training events (RunScoped)

/** The run's model is loading from the store onto the GPU (MB are 10^6 bytes). */
export interface WeightsProgressEvent extends EventBase, RunScoped {
  type: 'weightsProgress';
  modelId: string;
  percent: number;
  bytesDone: number;
  bytesTotal: number;
  mbPerSec: number;
}

/**
 * The run is on: the data is valid and every setting checked (nothing is loaded yet). Its runId
 * names the run from here on (stopTraining, exportModel, every later event).
 */
export interface TrainingStartedEvent extends EventBase, RunScoped {
  type: 'trainingStarted';
  modelId: string;
  /** Optimizer steps the run will take. */
  totalSteps: number;
  stepsPerEpoch: number;
  /** Training pairs (after dropping rows that truncation left empty). */
  examples: number;
  /** Evaluation pairs, or null without evalData. */
  evalExamples: number | null;
  /** Rows dropped because truncation left no completion (0-based row, its name in the file, why). */
  dropped: { row: number; name: string; reason: string }[];
  /** Every setting in force: the given ones over the preset's (TRL names). */
  settings: TrainSettings;
  /** Resumed runs: the checkpoint's step (the first trainStep is step + 1), else absent. */
  resumedFrom?: number;
  /** LoRA runs: trainable adapter parameters (the base is frozen), else absent. */
  adapterParameters?: number;
}

/**
 * The reference log-probs pass (pairs done of total, pairs per second, seconds left). With
 * cached: true the values came from the IndexedDB cache and this is the only event of the pass.
 */
export interface ReferenceProgressEvent extends EventBase, RunScoped {
  type: 'referenceProgress';
  /** Which set: the training pairs, or evalData's. */
  split: 'train' | 'eval';
  done: number;
  total: number;
  percent: number;
  rate: number;
  eta: number;
  /** Tokens per second so far (prompt twice + chosen + rejected per pair, as TRL's num_tokens counts); 0 when cached. */
  tokensPerSec: number;
  cached: boolean;
}

/**
 * The engine's GPU buffer pool (engine/pool.ts PoolStats), in bytes: what the run's tensors take on
 * the GPU. Uniform and upload staging buffers (small, short-lived) are not counted.
 */
export interface GpuMemory {
  /** Buffers held by live tensors now (weights, optimizer state, what the next step keeps). */
  inUse: number;
  /** inUse + idle buffers the pool keeps for reuse: the GPU memory the engine holds now. */
  held: number;
  /** The largest `held` so far on this device (the footprint of the busiest phase of a step; the model planner's `total` estimates it). */
  peak: number;
}

/** One optimizer step: `record` is exactly the line `prefstudio train` writes to metrics.jsonl. */
export interface TrainStepEvent extends EventBase, RunScoped {
  type: 'trainStep';
  record: StepRecord;
  /** Milliseconds since the first step started (for steps/s, tokens/s and an ETA). */
  elapsedMs: number;
  /** GPU memory after the step. */
  gpuMemory: GpuMemory;
}

/** Metrics on evalData before the first step and after the last (TRL's eval_ names), and its pairs. */
export interface EvalResultEvent extends EventBase, RunScoped {
  type: 'evalResult';
  phase: 'before' | 'after';
  /** Optimizer steps taken when it was measured. */
  step: number;
  /** eval_loss, eval_rewards/chosen, … eval_mean_token_accuracy. */
  metrics: Record<string, number>;
  pairs: PairRecord[];
}

/** A line the CLI would print: the preset used, rows dropped, a skipped step, the reference cache. */
export interface TrainingLogEvent extends EventBase, RunScoped {
  type: 'trainingLog';
  level: 'info' | 'warning';
  message: string;
}

/** The run took all its steps (and evaluated, with evalData). Its weights can be exported. */
export interface TrainingDoneEvent extends EventBase, RunScoped {
  type: 'trainingDone';
  steps: number;
  elapsedMs: number;
}

/** The run stopped at stopTraining after `step` optimizer steps. Its weights can be exported. */
export interface TrainingStoppedEvent extends EventBase, RunScoped {
  type: 'trainingStopped';
  step: number;
}

/**
 * The run's weights as a Hugging Face checkpoint folder: config.json, model.safetensors (or shards +
 * model.safetensors.index.json), the tokenizer and generation files. Each file is a Blob (a shard
 * can be larger than one JS array may be): download it, write it into a folder, or import it again
 * with importModel (new File([blob], path)).
 */
export interface ExportedEvent extends EventBase, RunScoped {
  type: 'exported';
  files: { path: string; size: number; blob: Blob }[];
}

/** A checkpoint of the run is complete in IndexedDB (every save_steps steps, at the end, or asked for). */
export interface CheckpointSavedEvent extends EventBase, RunScoped {
  type: 'checkpointSaved';
  step: number;
  bytes: number;
  /** Older checkpoints removed by save_total_limit. */
  removed: number[];
}

/** A run's complete checkpoints (steps, ascending). */
export interface CheckpointsEvent extends EventBase, RunScoped {
  type: 'checkpoints';
  steps: number[];
}

/** deleteRun's answer: the run's checkpoints are gone from IndexedDB. */
export interface RunDeletedEvent extends EventBase, RunScoped {
  type: 'runDeleted';
  /** Complete checkpoints removed (steps, ascending). */
  steps: number[];
  /** Bytes freed: the complete checkpoints' blobs (as checkpointSaved counted them) and what unfinished writes left. */
  bytes: number;
}

/**
 * pairTokens' answer: every completion token of the pair's chosen and rejected answers with its
 * text, log π (logp), the reference's log-prob (refLogp: LoRA runs, the base with the adapter off;
 * null when `reference` is 'not-kept' — full fine-tuning keeps only the reference's sums, in
 * record.ref_chosen_logp / ref_rejected_logp — or 'none') and WPO's term (wpo = logp − log Σp²: its
 * mean over an answer is log w of the answer, spec §2.3). Σ weight·logp = record.chosen_logp /
 * rejected_logp. `record` is the pair's PairRecord from the same forward (the loss kernel's fields).
 * The weights had taken `step` optimizer steps: step k + 1's record of the pair (when it trains on
 * it) comes from the same weights.
 */
export interface PairTokensEvent extends EventBase, RunScoped {
  type: 'pairTokens';
  row: number;
  step: number;
  promptTokens: number;
  chosen: TokenRow[];
  rejected: TokenRow[];
  reference: ReferenceSource;
  record: PairRecord;
}

export type TrainingEvent =
  | WeightsProgressEvent | TrainingStartedEvent | ReferenceProgressEvent | TrainStepEvent | EvalResultEvent
  | TrainingLogEvent | TrainingDoneEvent | TrainingStoppedEvent | ExportedEvent | CheckpointSavedEvent | CheckpointsEvent | RunDeletedEvent | PairTokensEvent;

// ------------------------------------------------------------------ self-check events (runCheck)

/** The check's device is up: what it runs on (for the report) and the cases it will run, in order. */
export interface CheckStartedEvent extends EventBase {
  type: 'checkStarted';
  which: 'quick' | 'full';
  adapter: AdapterDescription;
  features: string[];
  /** The device limits a bug report needs (as the engine raised them). */
  limits: Record<string, number>;
  cases: { op: string; name: string }[];
}

/** One case finished: index into checkStarted's cases. */
export interface CheckResultEvent extends EventBase {
  type: 'checkResult';
  index: number;
  result: CaseOutcome;
}

/** Every case ran (or the check stopped at cancelCheck). */
export interface CheckDoneEvent extends EventBase {
  type: 'checkDone';
  passed: number;
  failed: number;
  ms: number;
  stopped: boolean;
}

export type CheckEvent = CheckStartedEvent | CheckResultEvent | CheckDoneEvent;

// ------------------------------------------------------------------ generation events (generate)

/** The prompt is tokenised; `sides` are the answers that follow, in order. */
export interface GenerateStartedEvent extends EventBase {
  type: 'generateStarted';
  sides: ('base' | 'trained')[];
  promptTokens: number;
  /** The prompt as the model reads it (chat template applied, special tokens shown). */
  promptText: string;
}

/** The base model is loading from the weight store onto the GPU (first use of that model). */
export interface GenerateLoadingEvent extends EventBase {
  type: 'generateLoading';
  modelId: string;
  percent: number;
}

/** One new token of one answer; `text` is the answer so far (special tokens removed). */
export interface GenerateTokenEvent extends EventBase {
  type: 'generateToken';
  which: 'base' | 'trained';
  /** 0 = the first new token. */
  step: number;
  token: number;
  text: string;
}

/** One answer is complete: at a stop token, at maxNewTokens, or stopped by cancelGenerate. */
export interface GenerateDoneEvent extends EventBase {
  type: 'generateDone';
  which: 'base' | 'trained';
  text: string;
  tokens: number;
  finish: 'stop' | 'length' | 'stopped';
  tokensPerSecond: number;
}

export type GenerationEvent = GenerateStartedEvent | GenerateLoadingEvent | GenerateTokenEvent | GenerateDoneEvent;

// ------------------------------------------------------------------ data preview events (previewData)

/** The file is read and every row checked: its rows, form and malformed rows; `read.total` pairs are to be tokenised. */
export interface DataReadEvent extends EventBase {
  type: 'dataRead';
  read: DataRead;
}

/** Tokenising: pairs done of total (at most ~6 events a second, and one at the end). */
export interface DataProgressEvent extends EventBase {
  type: 'dataProgress';
  done: number;
  total: number;
  percent: number;
  /** Pairs tokenised per second so far. */
  pairsPerSec: number;
}

/** previewData's answer: everything the Data screen shows, cut at the command's limits. */
export interface DataPreviewEvent extends EventBase {
  type: 'dataPreview';
  preview: DataPreview;
}

/** previewLengths' answer: the preview's pairs cut at other limits. */
export interface DataLengthsEvent extends EventBase {
  type: 'dataLengths';
  previewId: number;
  lengths: LengthsPreview;
}

export type DataEvent = DataReadEvent | DataProgressEvent | DataPreviewEvent | DataLengthsEvent;

export type EngineEvent = AdapterEvent | ModelsEvent | ImportProgressEvent | ImportDoneEvent | ImportCancelledEvent | PeftAdapterEvent | ErrorEvent | TrainingEvent | CheckEvent | GenerationEvent | DataEvent;
