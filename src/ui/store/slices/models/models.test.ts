// The models slice on its own (no worker, no React): actions as the engine bridge calls them on
// worker events, and the selectors the Models screen reads. The store is reset after each case.

import { afterEach, describe, expect, it } from 'vitest';
import { getStudioState, initialStudioState, resetStudioStore, useStudioStore } from '../../index.ts';
import { announceSelectors } from '../announce/selectors.ts';
import { modelsActions } from './actions.ts';
import type { ModelView } from './initialState.ts';
import { modelsSelectors } from './selectors.ts';

afterEach(resetStudioStore);

const model = (id: string, name: string, over: Partial<ModelView> = {}): ModelView => ({
  id,
  name,
  parameters: 20_800,
  dtype: 'F32',
  bytes: 83_100,
  layers: 2,
  hidden: 32,
  vocab: 64,
  importedAt: '2025-11-22T00:42:00.000Z',
  isDemo: false,
  warnings: [],
  ...over,
});

const DEMO = model('prefstudio-demo.114b4d16', 'PrefStudio demo', { isDemo: true, parameters: 1_050_752, dtype: 'BF16', bytes: 2_180_000 });
const TINY = model('tiny-f32-1shard-aebbc5a0', 'tiny-f32-1shard');
const ALPHA = model('alpha-00000001', 'alpha', { bytes: 1000 });

const sel = <T,>(f: (s: ReturnType<typeof getStudioState>) => T): T => f(getStudioState());

describe('models slice', () => {
  it('starts empty and unlisted', () => {
    expect(getStudioState().models).toEqual(initialStudioState.models);
    expect(sel(modelsSelectors.listed)).toBe(false);
    expect(sel(modelsSelectors.count)).toBe(0);
    expect(sel(modelsSelectors.importStatus)).toBe('idle');
    expect(sel(modelsSelectors.isImporting)).toBe(false);
  });

  it('lists models; sortedList puts the demo first, then by name; totalBytes sums them', () => {
    modelsActions.listed([ALPHA, DEMO, TINY]);
    expect(sel(modelsSelectors.listed)).toBe(true);
    expect(sel(modelsSelectors.sortedList).map((m) => m.name)).toEqual(['PrefStudio demo', 'alpha', 'tiny-f32-1shard']);
    expect(sel(modelsSelectors.list).map((m) => m.name)).toEqual(['alpha', 'PrefStudio demo', 'tiny-f32-1shard']); // as sent
    expect(sel(modelsSelectors.totalBytes)).toBe(1000 + 2_180_000 + 83_100);
    expect(sel(modelsSelectors.byId(TINY.id))).toEqual(TINY);
    expect(sel(modelsSelectors.byId('nope'))).toBeNull();
  });

  it('the demo is preparing until a list holds it, and ready at once if it is already listed', () => {
    modelsActions.demoRequested();
    expect(sel(modelsSelectors.demoStatus)).toBe('preparing');
    modelsActions.listed([TINY]); // listModels answered before ensureDemo finished
    expect(sel(modelsSelectors.demoStatus)).toBe('preparing');
    modelsActions.listed([DEMO, TINY]);
    expect(sel(modelsSelectors.demoStatus)).toBe('ready');
    modelsActions.demoRequested(); // a later ensureDemo with the demo listed
    expect(sel(modelsSelectors.demoStatus)).toBe('ready');
  });

  it('an import runs, reports progress, and finishes with a full bar', () => {
    modelsActions.importStarted('tiny-f32-1shard', 2);
    expect(sel(modelsSelectors.importStatus)).toBe('running');
    expect(sel(modelsSelectors.isImporting)).toBe(true);
    expect(sel(modelsSelectors.importName)).toBe('tiny-f32-1shard');
    expect(sel(modelsSelectors.importProgress)).toBeNull();
    modelsActions.importProgressed({ phase: 'validate', percent: 100, bytesDone: 900, bytesTotal: 900, mbPerSec: 1 });
    modelsActions.importProgressed({ phase: 'copy', percent: 37.5, bytesDone: 3, bytesTotal: 8, mbPerSec: 12.5, file: 'model.safetensors' });
    expect(sel(modelsSelectors.importProgress)).toEqual({ phase: 'copy', percent: 37.5, bytesDone: 3, bytesTotal: 8, mbPerSec: 12.5, file: 'model.safetensors' });
    modelsActions.importFinished(TINY.id, 'tiny-f32-1shard', 0);
    expect(sel(modelsSelectors.importStatus)).toBe('done');
    expect(sel(modelsSelectors.isImporting)).toBe(false);
    expect(sel(modelsSelectors.importDoneId)).toBe(TINY.id);
    expect(sel(modelsSelectors.importProgress)).toMatchObject({ phase: 'copy', percent: 100, bytesDone: 8, bytesTotal: 8 });
  });

  it('progress after the import ended is ignored (a late event)', () => {
    modelsActions.importStarted(null, 1);
    modelsActions.importCancelled();
    modelsActions.importProgressed({ phase: 'copy', percent: 50, bytesDone: 1, bytesTotal: 2, mbPerSec: 1 });
    expect(sel(modelsSelectors.importProgress)).toBeNull();
    expect(sel(modelsSelectors.importStatus)).toBe('cancelled');
  });

  it('cancel: running → cancelling → cancelled; a cancel request with no import changes nothing', () => {
    modelsActions.cancelRequested();
    expect(sel(modelsSelectors.importStatus)).toBe('idle');
    modelsActions.importStarted('big', 3);
    modelsActions.cancelRequested();
    expect(sel(modelsSelectors.importStatus)).toBe('cancelling');
    expect(sel(modelsSelectors.isImporting)).toBe(true); // still stopping: controls stay disabled
    modelsActions.importCancelled();
    expect(sel(modelsSelectors.importStatus)).toBe('cancelled');
    expect(sel(modelsSelectors.isImporting)).toBe(false);
  });

  it('a failed import shows the problem; the next import clears it; dismiss clears it too', () => {
    modelsActions.importStarted('broken', 4);
    const problem = {
      during: 'import' as const,
      name: 'LoadError',
      message: "names shard 'model-00002-of-00003.safetensors' (holding e.g. 'model.layers.0.input_layernorm.weight'), which was not provided",
      where: 'model.safetensors.index.json',
      hint: 'add every shard listed in model.safetensors.index.json (3 files); a download may be incomplete',
    };
    modelsActions.failed(problem);
    expect(sel(modelsSelectors.importStatus)).toBe('failed');
    expect(sel(modelsSelectors.problem)).toEqual(problem);
    modelsActions.importStarted('fixed', 5);
    expect(sel(modelsSelectors.problem)).toBeNull();
    modelsActions.failed(problem);
    modelsActions.dismissProblem();
    expect(sel(modelsSelectors.problem)).toBeNull();
    expect(sel(modelsSelectors.importStatus)).toBe('failed');
  });

  it('a problem of another activity is kept when an import starts, and a list fixes only a list problem', () => {
    modelsActions.failed({ during: 'demo', name: 'LoadError', message: 'is not there (HTTP 404 Not Found)', where: 'http://x/demo/model/config.json' });
    expect(sel(modelsSelectors.demoStatus)).toBe('failed');
    modelsActions.importStarted('a', 1);
    expect(sel(modelsSelectors.problem)?.during).toBe('demo');
    modelsActions.listed([TINY]);
    expect(sel(modelsSelectors.problem)?.during).toBe('demo');
    modelsActions.failed({ during: 'list', name: 'UnknownError', message: 'Internal error opening backing store' });
    modelsActions.listed([TINY]);
    expect(sel(modelsSelectors.problem)).toBeNull();
  });

  it('deleting marks the id until a list without it arrives; a failed delete unmarks everything', () => {
    modelsActions.listed([DEMO, TINY, ALPHA]);
    modelsActions.deleteRequested(TINY.id);
    modelsActions.deleteRequested(TINY.id); // a double click
    modelsActions.deleteRequested(ALPHA.id);
    expect(getStudioState().models.deleting).toEqual([TINY.id, ALPHA.id]);
    expect(sel(modelsSelectors.isDeleting(TINY.id))).toBe(true);
    expect(sel(modelsSelectors.isDeleting(DEMO.id))).toBe(false);
    modelsActions.listed([DEMO, ALPHA]); // TINY's delete is done, ALPHA's not yet
    expect(sel(modelsSelectors.isDeleting(TINY.id))).toBe(false);
    expect(sel(modelsSelectors.isDeleting(ALPHA.id))).toBe(true);
    modelsActions.failed({ during: 'delete', name: 'UnknownError', message: 'the store refused' });
    expect(getStudioState().models.deleting).toEqual([]);
    expect(sel(modelsSelectors.count)).toBe(2);
  });

  it('an import says what it does in the status region: checking, copying by quarters, imported', () => {
    const said: string[] = [];
    const unsub = useStudioStore.subscribe((s, prev) => s.announce.seq !== prev.announce.seq && said.push(s.announce.message));
    modelsActions.importStarted('tiny', 2, false);
    modelsActions.importProgressed({ phase: 'validate', percent: 100, bytesDone: 9, bytesTotal: 9, mbPerSec: 1707 });
    for (const percent of [10, 30, 40, 60, 99]) modelsActions.importProgressed({ phase: 'copy', percent, bytesDone: percent, bytesTotal: 100, mbPerSec: 5 });
    modelsActions.importFinished(TINY.id, 'tiny', 0);
    unsub();
    expect(said).toEqual([
      'Importing tiny: checking its files.',
      'The files are fine; copying tiny into browser storage.',
      'Copying tiny: 25 %.',
      'Copying tiny: 50 %.',
      'Copying tiny: 75 %.',
      'Imported tiny. It has no tokenizer.json: it can train on token-id data only, and cannot turn text into tokens or back.',
    ]);
  });

  it('the same folder again is "already stored"; the same weights under another name are named', () => {
    modelsActions.listed([DEMO, TINY]);
    modelsActions.importStarted('tiny-f32-1shard', 2, true);
    modelsActions.importFinished(TINY.id, 'tiny-f32-1shard', 83_100);
    expect(sel(modelsSelectors.importAlready)).toBe(true);
    expect(sel(modelsSelectors.importSameAs)).toBeNull();
    expect(sel(announceSelectors.message)).toBe('tiny-f32-1shard is already stored: its files were checked and nothing new was copied.');

    modelsActions.importStarted('copy', 2, true);
    modelsActions.importFinished('copy-aebbc5a0', 'copy', 0); // TINY's fingerprint, another name
    expect(sel(modelsSelectors.importAlready)).toBe(false);
    expect(sel(modelsSelectors.importSameAs)).toBe('tiny-f32-1shard');
    expect(sel(announceSelectors.message)).toBe('Imported copy. The same weights are also stored as tiny-f32-1shard.');
  });

  const adapter = (id: string, name: string, baseModelId: string) => ({ id, name, baseModelId, r: 8, alpha: 16, targets: ['q_proj', 'v_proj'], parameters: 4096, bytes: 1000, createdAt: '2025-11-22T00:42:00.000Z', source: 'import' });

  it('a delete is announced when the list no longer holds the model', () => {
    modelsActions.listed([DEMO, TINY]);
    modelsActions.deleteRequested(TINY.id);
    modelsActions.listed([DEMO, TINY]); // not yet
    expect(sel(announceSelectors.message)).toBe('');
    modelsActions.listed([DEMO]);
    expect(sel(announceSelectors.message)).toBe('Deleted tiny-f32-1shard; 83.1 KB freed.');
  });

  it('a model deleted with its PEFT adapters: the freed bytes and the caption\'s total count them', () => {
    modelsActions.listed([DEMO, TINY]);
    modelsActions.adaptersListed([adapter('a1', 'dpo', TINY.id), adapter('a2', 'wpo', TINY.id), adapter('a3', 'x', DEMO.id)]);
    expect(sel(modelsSelectors.totalBytes)).toBe(2_180_000 + 83_100 + 3 * 1000);
    expect(sel(modelsSelectors.bytesWithAdapters(TINY.id))).toBe(83_100 + 2 * 1000);
    expect(sel(modelsSelectors.bytesWithAdapters('nope'))).toBe(0);
    modelsActions.deleteRequested(TINY.id);
    modelsActions.listed([DEMO]); // the worker's list: TINY gone, its adapters with it
    expect(sel(announceSelectors.message)).toBe('Deleted tiny-f32-1shard and its 2 PEFT adapters; 85.1 KB freed.');
    modelsActions.adaptersListed([adapter('a3', 'x', DEMO.id)]);
    expect(sel(modelsSelectors.totalBytes)).toBe(2_180_000 + 1000);
  });

  it('unfinished imports: the first listing announces an interrupted one; a discard is announced when it is gone', () => {
    const P = { id: 'big-0badc0de', name: 'big', startedAt: '2025-11-22T00:42:00.000Z', bytesStored: 33_554_432, bytesTotal: 79_700_000 };
    const Q = { ...P, id: 'other-12345678', name: 'other' };
    modelsActions.partialsListed([P, Q]);
    expect(sel(modelsSelectors.partials)).toEqual([P, Q]);
    expect(sel(announceSelectors.message)).toBe('An import of big was interrupted: 33.6 MB of 79.7 MB are stored. Import the same folder again to resume it, or discard it. 1 more unfinished import is listed.');
    const seq = sel(announceSelectors.seq);
    modelsActions.partialsListed([P, Q]); // later listings say nothing new
    expect(sel(announceSelectors.seq)).toBe(seq);
    modelsActions.discardRequested(P.id);
    expect(sel(modelsSelectors.isDiscarding(P.id))).toBe(true);
    modelsActions.partialsListed([Q]);
    expect(sel(modelsSelectors.isDiscarding(P.id))).toBe(false);
    expect(sel(announceSelectors.message)).toBe('Discarded the unfinished import of big; 33.6 MB freed.');
  });

  it('PEFT adapters are listed under their base model, by name', () => {
    modelsActions.adaptersListed([adapter('2', 'wpo', TINY.id), adapter('1', 'dpo', TINY.id), adapter('3', 'x', DEMO.id)]);
    expect(sel(modelsSelectors.adaptersOf(TINY.id)).map((x) => x.name)).toEqual(['dpo', 'wpo']);
    expect(sel(modelsSelectors.adaptersOf(ALPHA.id))).toEqual([]);
  });

  it('adding an adapter: running with progress for its model only, then done (full bar) and said; a failure is kept with its model', () => {
    modelsActions.listed([DEMO, TINY]);
    modelsActions.adapterImportStarted(TINY.id, 'my-lora');
    expect(sel(modelsSelectors.adapterImport)).toMatchObject({ modelId: TINY.id, status: 'running', name: 'my-lora', progress: null });
    expect(sel(announceSelectors.message)).toBe('Adding the PEFT adapter my-lora to tiny-f32-1shard: checking its files.');
    modelsActions.adapterImportProgressed(DEMO.id, { phase: 'copy', percent: 50, bytesDone: 1, bytesTotal: 2 }); // another model's: ignored
    expect(sel(modelsSelectors.adapterImport).progress).toBeNull();
    modelsActions.adapterImportProgressed(TINY.id, { phase: 'copy', percent: 40, bytesDone: 4, bytesTotal: 10, file: 'adapter_model.safetensors' });
    modelsActions.adapterImported(TINY.id, 'my-lora', false);
    expect(sel(modelsSelectors.adapterImport)).toMatchObject({ status: 'done', already: false, progress: { percent: 100, bytesDone: 10 } });
    expect(sel(announceSelectors.message)).toBe('Added the PEFT adapter my-lora to tiny-f32-1shard.');
    modelsActions.adapterImported(TINY.id, 'my-lora', true);
    expect(sel(announceSelectors.message)).toBe('my-lora is already stored under tiny-f32-1shard: nothing new was written.');

    modelsActions.adapterImportStarted(TINY.id, 'bad');
    const problem = { during: 'import' as const, modelId: TINY.id, runId: null, name: 'LoadError', message: "is true: DoRA (use_dora) adds …", where: "bad/adapter_config.json, field 'use_dora'" };
    modelsActions.adapterFailed(problem);
    expect(sel(modelsSelectors.adapterImport).status).toBe('failed');
    expect(sel(modelsSelectors.adapterProblem)).toEqual(problem);
    modelsActions.adapterImportStarted(TINY.id, 'good'); // the next add clears it
    expect(sel(modelsSelectors.adapterProblem)).toBeNull();
  });

  it('deleting an adapter: marked until the list lacks it, the bytes freed said; a run adapter saved is said with its model', () => {
    modelsActions.listed([DEMO, TINY]);
    modelsActions.adaptersListed([adapter('a1', 'dpo', TINY.id)]);
    modelsActions.adapterDeleteRequested('a1');
    expect(sel(modelsSelectors.isAdapterDeleting('a1'))).toBe(true);
    modelsActions.adapterDeleted(TINY.id, 'a1', 2_500_000);
    expect(sel(announceSelectors.message)).toBe('Deleted the adapter dpo of tiny-f32-1shard; 2.5 MB freed.');
    modelsActions.adaptersListed([]);
    expect(sel(modelsSelectors.isAdapterDeleting('a1'))).toBe(false);

    modelsActions.runAdapterSaveStarted('run-1');
    expect(sel(modelsSelectors.runAdapterSave)).toMatchObject({ runId: 'run-1', status: 'saving' });
    modelsActions.runAdapterSaved('run-1', DEMO.id, 'run-1', false);
    expect(sel(modelsSelectors.runAdapterSave)).toEqual({ runId: 'run-1', status: 'done', adapterName: 'run-1', modelId: DEMO.id, already: false });
    expect(sel(announceSelectors.message)).toBe('Saved the adapter of run-1 under PrefStudio demo as run-1: it is listed on the Model screen.');
  });

  it('resetStudioStore gives a clean slice (the reset each case runs after)', () => {
    modelsActions.listed([DEMO]);
    modelsActions.importStarted('x', 1);
    resetStudioStore();
    expect(getStudioState().models).toEqual(initialStudioState.models);
    expect(getStudioState().device).toEqual(initialStudioState.device);
  });
});
