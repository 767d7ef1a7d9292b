// Which training run's weights the engine worker holds, from its training events (useEngine.ts
// shows every event to observeRunEvent before anyone takes it): a run started or resumed is the
// held one from then on; it may answer prompts and be exported once done or stopped; a failure
// frees its weights. Its step records (each trainStep's StepRecord, exactly the metrics.jsonl line)
// and the data file it was started with (useEngine.ts shows every command sent to noteCommand) are
// kept here for the Export screen's metrics and TRL recipe while the page lives.

import type { Command, DataFile, EngineEvent, TrainStepEvent } from '../../engine/worker/protocol.ts';
import { heldRunActions } from '../store/slices/heldRun/actions.ts';
import { getStudioState } from '../store/index.ts';

export type StepRecordView = TrainStepEvent['record'];

let records: { runId: string; list: StepRecordView[]; data: DataFile | File | null } | null = null;
/** startTraining commands waiting for their trainingStarted: their data file, by command id. */
const sentData = new Map<number, DataFile | File>();

/** Notes the data file of a startTraining (the run it starts is named by trainingStarted). */
export function noteCommand(cmd: Command): void {
  if (cmd.type === 'startTraining') sentData.set(cmd.id, cmd.data);
}

/** Notes what the worker does with its runs' weights; never takes an event from the others. */
export function observeRunEvent(ev: EngineEvent): void {
  switch (ev.type) {
    case 'trainingStarted': {
      const kept = records?.runId === ev.runId && ev.resumedFrom !== undefined ? records.list.filter((r) => r.step <= ev.resumedFrom!) : [];
      const data = (ev.requestId !== undefined ? sentData.get(ev.requestId) : undefined) ?? null;
      sentData.clear(); // one run at a time: older commands' data are of runs that never started
      records = { runId: ev.runId, list: kept, data };
      heldRunActions.started({ runId: ev.runId, modelId: ev.modelId, state: 'running', step: ev.resumedFrom ?? 0, totalSteps: ev.totalSteps, settings: { ...ev.settings }, lora: ev.settings.use_peft === true });
      return;
    }
    case 'trainStep':
      if (records?.runId !== ev.runId) return;
      records.list.push(ev.record);
      heldRunActions.stepped(ev.runId, ev.record.step);
      return;
    case 'trainingDone':
      heldRunActions.ended(ev.runId, 'done', ev.steps);
      return;
    case 'trainingStopped':
      heldRunActions.ended(ev.runId, 'stopped', ev.step);
      return;
    case 'error':
      if (ev.runId !== undefined && getStudioState().heldRun.run?.runId === ev.runId) heldRunActions.ended(ev.runId, 'failed');
      return;
  }
}

/** The data file run `runId` was started with from this page (null: another run, or not known). */
export function heldRunData(runId: string): DataFile | File | null {
  return records?.runId === runId ? records.data : null;
}

/** The step records of run `runId` seen by this page (empty for other runs). */
export function heldRunRecords(runId: string): readonly StepRecordView[] {
  return records?.runId === runId ? records.list : [];
}
