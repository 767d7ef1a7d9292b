// The Check screen's bridge to the engine worker: runCheck / cancelCheck, and the check's events
// (checkStarted, checkResult, checkDone, and failures of those commands) into the check slice.
// useEngine.ts hands every event to onCheckEvent first; it takes the ones that are the check's.

import type { CheckWhich } from '../store/slices/check/initialState.ts';
import { checkActions } from '../store/slices/check/actions.ts';
import type { EngineEvent } from '../../engine/worker/protocol.ts';
import { sendCommand } from './useEngine.ts';

const CHECK_COMMANDS = new Set(['runCheck', 'cancelCheck']);

/** Takes the check's events into the check slice; false for every other event. */
export function onCheckEvent(ev: EngineEvent): boolean {
  switch (ev.type) {
    case 'checkStarted':
      checkActions.started({ ...ev.adapter }, ev.features, ev.limits, ev.cases);
      return true;
    case 'checkResult':
      checkActions.result(ev.index, { ...ev.result });
      return true;
    case 'checkDone':
      checkActions.finished(ev.passed, ev.failed, ev.ms, ev.stopped);
      return true;
    case 'error':
      if (!ev.command || !CHECK_COMMANDS.has(ev.command)) return false;
      checkActions.failed({ name: ev.name, message: ev.message, where: ev.where, hint: ev.hint });
      return true;
    default:
      return false;
  }
}

export const checkCommands = {
  run(which: CheckWhich): void {
    checkActions.requested(which);
    sendCommand({ type: 'runCheck', which });
  },
  stop(): void {
    checkActions.stopRequested();
    sendCommand({ type: 'cancelCheck' });
  },
};
