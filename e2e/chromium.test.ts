// The GPU op suite in headless Chromium: the same cases as e2e/gpu/node.test.ts, run by the page
// e2e/gpu/browser/index.html on navigator.gpu (SwiftShader here; a real GPU elsewhere). This test
// starts Vite and Debian's Chromium, opens the page, follows `window.__gpuSuite` while cases run
// and fails listing every failed case. No adapter is a failure, never a skip; so is a case count
// different from what Node selects. Filter like the Node runner: CASES=rmsnorm,rope.

import { describe, expect, it } from 'vitest';
import { caseModules, selectCases } from './gpu/cases.ts';
import { forwardConsole } from './gpu/browser/launch.ts';
import { useViteAndChromium } from './gpu/browser/lifecycle.ts';
import type { CaseResult, SuiteState } from './gpu/browser/suite.ts';

// Generous: SwiftShader is a CPU emulation, several times slower than lavapipe.
const SUITE_TIMEOUT_MS = Number(process.env.CHROMIUM_SUITE_TIMEOUT_MS ?? 30 * 60_000);

const env = useViteAndChromium();

describe('gpu op suite (chromium)', () => {
  it('runs every case on a WebGPU adapter in headless Chromium', { timeout: SUITE_TIMEOUT_MS + 60_000 }, async () => {
    const filter = process.env.CASES ?? '';
    const expected = selectCases(filter || undefined).map((c) => c.name);
    expect(caseModules.length, 'no case modules found under e2e/gpu/cases').toBeGreaterThan(0);

    const page = await env.browser.newPage();
    forwardConsole(page, 'chromium');
    const url = `${env.url}/e2e/gpu/browser/index.html${filter ? `?cases=${encodeURIComponent(filter)}` : ''}`;
    await page.goto(url);

    // Follow the page: print each case as it finishes (a long SwiftShader run shows progress).
    const deadline = Date.now() + SUITE_TIMEOUT_MS;
    let state: SuiteState | undefined;
    let printed = 0;
    let adapterShown = false;
    for (;;) {
      state = await page.evaluate(() => window.__gpuSuite && (JSON.parse(JSON.stringify(window.__gpuSuite)) as SuiteState));
      if (state?.adapter && !adapterShown) {
        const a = state.adapter;
        console.log(`[chromium suite] adapter: ${a.vendor}/${a.architecture}${a.description ? ` (${a.description})` : ''}, software=${a.isSoftware}, subgroups ${a.subgroupMinSize}-${a.subgroupMaxSize}, offset alignment ${a.minStorageBufferOffsetAlignment}, features: ${a.features.join(', ')}`);
        adapterShown = true;
      }
      for (; state && printed < state.results.length; printed++) console.log(line(state.results[printed]));
      if (state?.done) break;
      if (Date.now() > deadline) {
        throw new Error(`the browser suite did not finish in ${SUITE_TIMEOUT_MS / 1000} s; ${state?.results.length ?? 0}/${expected.length} cases done (raise CHROMIUM_SUITE_TIMEOUT_MS or filter with CASES=)`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }

    // No adapter (navigator.gpu missing, requestAdapter null) or engine creation failed.
    expect(state.error, `the suite could not start in Chromium:\n${state.error}`).toBeUndefined();
    expect(state.adapter, 'no WebGPU adapter in Chromium').not.toBeNull();

    // Node and the browser must see the same cases (import.meta.glob on both sides).
    const ran = state.results.map((r) => r.name);
    const missing = expected.filter((n) => !ran.includes(n));
    const extra = ran.filter((n) => !expected.includes(n));
    expect({ count: ran.length, missing, extra }, 'cases run in Chromium differ from the cases Node selects').toEqual({ count: expected.length, missing: [], extra: [] });

    const failed = state.results.filter((r) => !r.ok);
    const total = state.results.reduce((s, r) => s + r.ms, 0);
    console.log(`[chromium suite] ${state.results.length - failed.length}/${state.results.length} passed in ${(total / 1000).toFixed(1)} s`);
    if (failed.length) {
      throw new Error(`${failed.length} of ${state.results.length} GPU cases failed in Chromium:\n${failed.map((r) => `  ✗ ${r.name}\n${indent(firstLines(r.error ?? '', 12))}`).join('\n')}`);
    }
  });
});

function line(r: CaseResult): string {
  return `[chromium suite] ${r.ok ? '✓' : '✗'} ${r.name} (${r.ms.toFixed(0)} ms)${r.ok ? '' : `\n${indent(firstLines(r.error ?? '', 12))}`}`;
}

function firstLines(s: string, n: number): string {
  const lines = s.split('\n');
  return lines.length > n ? [...lines.slice(0, n), `… (${lines.length - n} more lines)`].join('\n') : s;
}

function indent(s: string): string {
  return s.replace(/^/gm, '      ');
}
