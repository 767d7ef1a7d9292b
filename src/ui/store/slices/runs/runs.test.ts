// The runs and train slices on their own (no worker, no IndexedDB, no React): runs listed newest
// first, a run this page started kept when the stored list arrives, compare ticks, deletes
// announced with what they freed; a run's phases as the bridge reports them. The store is reset
// after each case.

import { afterEach, describe, expect, it } from 'vitest';
import { getStudioState, resetStudioStore } from '../../index.ts';
import { announceSelectors } from '../announce/selectors.ts';
import { trainActions } from '../train/actions.ts';
import { trainSelectors } from '../train/selectors.ts';
import { runBytes, runsActions } from './actions.ts';
import type { RunView } from './initialState.ts';
import { runsSelectors } from './selectors.ts';

afterEach(resetStudioStore);

const sel = <T,>(f: (s: ReturnType<typeof getStudioState>) => T): T => f(getStudioState());
const run = (id: string, createdAt: string, over: Partial<RunView> = {}): RunView => ({
  id, name: `wpo-hb · ${id}.jsonl`, createdAt, modelId: 'demo', modelName: 'PrefStudio demo', dataName: `${id}.jsonl`, dataBytes: 1000,
  config: { preset: 'wpo-hb' }, settings: { loss_type: ['sigmoid'] }, lossLabel: 'wpo-hb', totalSteps: 6, stepsPerEpoch: 6, examples: 24, rows: 24,
  status: 'paused', step: 3, checkpoints: [{ step: 2, bytes: 5_000_000 }, { step: 3, bytes: 5_000_000 }], storedBytes: 20_000, problem: null, ...over,
});

describe('runs slice', () => {
  it('lists runs newest first; a run started before the stored list arrived stays', () => {
    runsActions.upserted(run('new', '2026-01-03T00:00:00Z', { status: 'running' }));
    runsActions.loaded([run('old', '2026-01-01T00:00:00Z'), run('mid', '2026-01-02T00:00:00Z'), run('new', '2026-01-03T00:00:00Z', { status: 'interrupted' })]);
    expect(sel(runsSelectors.list).map((r) => [r.id, r.status])).toEqual([['new', 'running'], ['mid', 'paused'], ['old', 'paused']]);
    expect(sel(runsSelectors.loaded)).toBe(true);
    runsActions.patched('mid', (r) => ({ step: r.step + 1 }));
    expect(sel(runsSelectors.byId('mid'))?.step).toBe(4);
  });

  it('compare ticks in order; a delete drops the run from the comparison and says what it freed', () => {
    runsActions.loaded([run('a', '2026-01-01T00:00:00Z'), run('b', '2026-01-02T00:00:00Z')]);
    runsActions.compareToggled('b');
    runsActions.compareToggled('a');
    expect(sel(runsSelectors.compareIds)).toEqual(['b', 'a']);
    expect(sel(runsSelectors.compared).map((r) => r.id)).toEqual(['b', 'a']);
    runsActions.deleteRequested('b');
    expect(sel(runsSelectors.isDeleting('b'))).toBe(true);
    const bytes = runBytes(sel(runsSelectors.byId('b'))!);
    expect(bytes).toBe(10_020_000);
    runsActions.deleted('b');
    expect(sel(runsSelectors.list).map((r) => r.id)).toEqual(['a']);
    expect(sel(runsSelectors.compareIds)).toEqual(['a']);
    expect(sel(announceSelectors.message)).toBe('Deleted run wpo-hb · b.jsonl; 10.0 MB freed.');
  });
});

describe('train slice', () => {
  it('a run goes starting → weights → reference → training → pausing → paused; Pause only while stepping', () => {
    trainActions.requested(7, 'run');
    expect([sel(trainSelectors.phase), sel(trainSelectors.isLive), sel(trainSelectors.canPause)]).toEqual(['starting', true, false]);
    trainActions.started('run-1', 6, null);
    expect(sel(announceSelectors.message)).toBe('Training started: 6 steps.');
    trainActions.weightsProgressed('run-1', 50, 12.5);
    expect(sel(trainSelectors.active)?.weights).toEqual({ percent: 50, mbPerSec: 12.5 });
    trainActions.referenceProgressed('run-1', { split: 'train', done: 8, total: 24, percent: 33, rate: 4, eta: 4, tokensPerSec: 480, cached: false });
    expect(sel(trainSelectors.phase)).toBe('reference');
    trainActions.stepped('other-run', 1, 10, 5); // another run's late event changes nothing
    expect(sel(trainSelectors.active)?.step).toBe(0);
    trainActions.stepped('run-1', 1, 100, 50, { inUse: 3e6, held: 4e6, peak: 5e6 });
    expect([sel(trainSelectors.phase), sel(trainSelectors.canPause), sel(trainSelectors.active)?.tokensPerSec]).toEqual(['training', true, 100]);
    trainActions.stepped('run-1', 1, 100, 50); // no figures: the last ones stay
    expect(sel(trainSelectors.active)?.gpuMemory).toEqual({ inUse: 3e6, held: 4e6, peak: 5e6 });
    trainActions.ending('pausing');
    trainActions.stepped('run-1', 2, 100, 40); // the step in flight finishes while pausing
    expect(sel(trainSelectors.phase)).toBe('pausing');
    trainActions.ended('run-1', 'paused', 2);
    expect([sel(trainSelectors.phase), sel(trainSelectors.isLive), sel(trainSelectors.active)?.etaSec]).toEqual(['paused', false, null]);
    expect(sel(announceSelectors.message)).toBe('Training paused at step 2; Resume continues from there.');
  });

  it('a refused start keeps the problem until dismissed', () => {
    trainActions.requested(0, 'run');
    trainActions.refused({ name: 'SettingError', message: 'learning_rate must be a number' });
    expect([sel(trainSelectors.phase), sel(trainSelectors.isLive), sel(trainSelectors.problem)?.name]).toEqual(['failed', false, 'SettingError']);
    trainActions.dismissProblem();
    expect(sel(trainSelectors.problem)).toBeNull();
  });
});
