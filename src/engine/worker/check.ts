// The worker's self-check (protocol.ts: runCheck, cancelCheck): the engine's op suite
// (check/suite.ts) against the float64 CPU references, on a device of its own from the worker's
// navigator.gpu — so a running training keeps its memory and a case that changes engine settings
// (matmul tuning) or loses its device touches nothing else — destroyed at the end. Each case
// answers with a checkResult as it finishes; the suite is loaded on first use, so the worker's
// start does not pay for it.

import { Engine } from '../engine.ts';
import { EngineError } from '../errors.ts';
import type { Reply } from './models.ts';
import type { RunCheckCommand } from './protocol.ts';

let running: { stop: boolean } | null = null;

/** Runs the check, answering checkStarted, one checkResult per case, then checkDone. */
export async function runCheck(cmd: RunCheckCommand, gpu: GPU, reply: Reply): Promise<void> {
  if (running) throw new EngineError('runCheck', 'a check is already running', 'wait for it to finish, or stop it first');
  const state = { stop: false };
  running = state;
  let e: Engine | null = null;
  try {
    const { checkCases, runCase } = await import('../check/suite.ts');
    const cases = checkCases(cmd.which);
    e = await Engine.create(gpu);
    reply({ type: 'checkStarted', which: cmd.which, adapter: e.info, features: [...e.features].sort(), limits: { ...e.limits }, cases: cases.map((c) => ({ op: c.op, name: c.case.name })) });
    const t0 = performance.now();
    let passed = 0;
    let failed = 0;
    for (const [index, c] of cases.entries()) {
      if (state.stop) break;
      const result = await runCase(e, c);
      if (result.ok) passed++;
      else failed++;
      reply({ type: 'checkResult', index, result });
    }
    reply({ type: 'checkDone', passed, failed, ms: performance.now() - t0, stopped: state.stop });
  } finally {
    e?.destroy();
    running = null;
  }
}

/** Asks the running check to stop after its current case (nothing to do when none runs). */
export function cancelCheck(): void {
  if (running) running.stop = true;
}
