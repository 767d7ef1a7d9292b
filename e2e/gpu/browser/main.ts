// The GPU op suite in a browser tab: the same cases as e2e/gpu/node.test.ts (e2e/gpu/cases.ts),
// on the engine created from navigator.gpu. Driven by e2e/chromium.test.ts, which reads
// `window.__gpuSuite` (see suite.ts); a person can also open the page in a WebGPU browser
// (npm run dev, then /e2e/gpu/browser/index.html?cases=softcap) and read the list.
//
// Like the Node runner: one engine for all cases, run in order, engine.sync() after each, and no
// skips — a missing adapter is an error, not an empty pass.

import { Engine } from '../../../src/engine/engine.ts';
import { selectCases } from '../cases.ts';
import type { CaseResult, SuiteState } from './suite.ts';

const filter = new URLSearchParams(location.search).get('cases') ?? '';
const cases = selectCases(filter || undefined);
const state: SuiteState = { adapter: null, filter, selected: cases.map((c) => c.name), results: [], done: false };
window.__gpuSuite = state;

const list = document.getElementById('results') as HTMLOListElement;
const status = document.getElementById('status') as HTMLParagraphElement;

function show(r: CaseResult): void {
  const li = document.createElement('li');
  li.className = r.ok ? 'ok' : 'fail';
  li.textContent = `${r.ok ? 'ok  ' : 'FAIL'} ${r.name} (${r.ms.toFixed(0)} ms)`;
  if (r.error) {
    const pre = document.createElement('pre');
    pre.textContent = r.error;
    li.append(pre);
  }
  list.append(li);
}

function errorText(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  // V8 stacks start with "Name: message"; keep that form when the stack is missing or differs.
  const head = `${e.name}: ${e.message}`;
  return e.stack?.startsWith(head) ? e.stack : `${head}\n${e.stack ?? ''}`.trim();
}

async function main(): Promise<void> {
  status.textContent = `starting WebGPU… (${cases.length} cases${filter ? `, filter "${filter}"` : ''})`;
  let engine: Engine;
  try {
    engine = await Engine.create(navigator.gpu);
  } catch (e) {
    state.error = errorText(e);
    status.textContent = `no engine: ${state.error}`;
    state.done = true;
    return;
  }
  const i = engine.info;
  state.adapter = { ...i, features: [...engine.features].sort(), minStorageBufferOffsetAlignment: engine.limits.minStorageBufferOffsetAlignment };
  const who = `${i.vendor}/${i.architecture}${i.description ? ` (${i.description})` : ''}`;

  for (const [k, c] of cases.entries()) {
    status.textContent = `${who}: running ${k + 1}/${cases.length}: ${c.name}`;
    const t0 = performance.now();
    let r: CaseResult;
    try {
      await c.run(engine);
      await engine.sync();
      r = { name: c.name, ok: true, ms: performance.now() - t0 };
    } catch (e) {
      r = { name: c.name, ok: false, ms: performance.now() - t0, error: errorText(e) };
    }
    state.results.push(r);
    show(r);
  }
  const failed = state.results.filter((r) => !r.ok).length;
  status.textContent = `${who}: ${cases.length - failed}/${cases.length} passed`;
  engine.destroy();
  state.done = true;
}

main().catch((e: unknown) => {
  state.error = `suite page crashed: ${errorText(e)}`;
  status.textContent = state.error;
  state.done = true;
});
