// The worker's pairTokens (protocol.ts) in headless Chromium (SwiftShader), driven through the
// protocol from the engine worker's test page (e2e/training/, window.__engine): a LoRA run (no
// dropout, WPO weighting) of 3 steps on 8 demo pairs, batches of 4.
//   - Asked for every pair while step 2 runs, the answers come between two steps (after the
//     trainStep of the step they name, before the next one's), and they are computed with the
//     weights the next step trains with: for each pair that step holds, the tokens' summed
//     log-probs equal its record's chosen_logp / rejected_logp, the reference's (the base with the
//     adapter off) its ref_chosen_logp / ref_rejected_logp, their WPO terms its weight.
//   - After trainingDone, asked again, the answer comes at once, after step 3, with the same checks
//     against its own record, and one span of text per completion token (the texts join to the
//     answer as the model reads it).
//   - An unknown run and a row that is not a training pair are errors that say why and what to do.
// The numbers against a float64 model and the trainer are checked in Node (e2e/gpu/cases/pair_tokens.ts).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { EngineEvent, ErrorEvent, PairTokensEvent, TrainStepEvent } from '../src/engine/worker/protocol.ts';
import { forwardConsole, repoRoot } from './gpu/browser/launch.ts';
import { useViteAndChromium } from './gpu/browser/lifecycle.ts';

const env = useViteAndChromium();
const PAIRS = 8;
const LINES = readFileSync(join(repoRoot, 'public/demo/preferences/train.jsonl'), 'utf8').split('\n').slice(0, PAIRS);
const CONFIG = { loss_type: 'sigmoid', use_weighting: true, beta: 0.1, learning_rate: 1e-2, max_steps: 3, per_device_train_batch_size: 4, seed: 3, use_peft: true, lora_r: 4, lora_alpha: 8, lora_dropout: 0 };

interface Driver {
  send(body: unknown): number;
  startTraining(modelId: string, data: { name: string; text: string }, config: Record<string, unknown>): Promise<number>;
  events(from?: number): EngineEvent[];
}
const engine = (page: Page) => ({
  send: (body: unknown): Promise<number> => page.evaluate((b) => (window as unknown as { __engine: Driver }).__engine.send(b), body),
  events: (): Promise<EngineEvent[]> => page.evaluate(() => (window as unknown as { __engine: Driver }).__engine.events()),
});

/** Polls the page's events until `pick` returns something (fails after `ms`, naming `what`). */
async function until<T>(page: Page, what: string, pick: (evs: EngineEvent[]) => T | undefined, ms = 240_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const evs = await engine(page).events();
    const got = pick(evs);
    if (got !== undefined) return got;
    if (Date.now() - t0 > ms) throw new Error(`no ${what} in ${ms / 1000} s; events: ${evs.map((e) => (e.type === 'error' ? `error(${e.message})` : e.type)).join(', ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The tokens against the record of a pair computed with the same weights. */
function expectConsistent(t: PairTokensEvent, rec: Record<string, unknown>, what: string): void {
  const sum = (xs: { logp: number }[]) => xs.reduce((a, x) => a + x.logp, 0);
  const refSum = (xs: { refLogp: number | null }[]) => xs.reduce((a, x) => a + (x.refLogp as number), 0);
  const mean = (xs: { wpo: number }[]) => xs.reduce((a, x) => a + x.wpo, 0) / xs.length;
  const near = (a: number, b: unknown, name: string): void => expect(Math.abs(a - (b as number)), `${what}: ${name} ${a} vs ${String(b)}`).toBeLessThan(1e-4);
  expect(t.reference).toBe('adapter-off');
  expect([t.chosen.length, t.rejected.length]).toEqual([rec.chosen_tokens, rec.rejected_tokens]);
  near(sum(t.chosen), rec.chosen_logp, 'Σ chosen log-probs');
  near(sum(t.rejected), rec.rejected_logp, 'Σ rejected log-probs');
  near(refSum(t.chosen), rec.ref_chosen_logp, 'Σ chosen reference log-probs');
  near(refSum(t.rejected), rec.ref_rejected_logp, 'Σ rejected reference log-probs');
  near(Math.min(1, Math.exp(mean(t.chosen) + mean(t.rejected))), rec.weight, 'WPO weight from the tokens (clamped)');
}

describe('pairTokens in the engine worker (chromium)', () => {
  it('between two steps while running, at once after; the same numbers as the step records; errors say why', { timeout: 420_000 }, async () => {
    const page = await env.browser.newPage();
    forwardConsole(page, 'pair_tokens');
    await page.goto(`${env.url}/e2e/training/index.html`);
    await page.waitForFunction(() => '__engine' in window, null, { timeout: 60_000 });
    const { send, events } = engine(page);
    const ensure = await send({ type: 'ensureDemo', baseUrl: `${env.url}/demo/model/` });
    const modelId = await until(page, 'demo model', (evs) => evs.flatMap((e) => (e.type === 'models' && e.requestId === ensure ? e.models.filter((m) => m.isDemo).map((m) => m.id) : []))[0]);
    const run = await page.evaluate(([m, text, c]) => (window as unknown as { __engine: Driver }).__engine.startTraining(m, { name: 'head8.jsonl', text }, c), [modelId, LINES.join('\n'), CONFIG] as const);
    const runId = await until(page, 'trainingStarted', (evs) => evs.flatMap((e) => (e.type === 'trainingStarted' && e.requestId === run ? [e.runId] : []))[0]);

    // while running: every pair asked for as soon as step 1 is reported (step 2 is under way)
    await until(page, 'step 1', (evs) => evs.find((e) => e.type === 'trainStep' && e.record.step === 1));
    const asked: number[] = [];
    for (let row = 0; row < PAIRS; row++) asked.push(await send({ type: 'pairTokens', runId, row }));
    const running = await until(page, 'the answers while running', (evs) => {
      const got = evs.filter((e): e is PairTokensEvent => e.type === 'pairTokens' && asked.includes(e.requestId!));
      return got.length === PAIRS ? got : undefined;
    });
    let evs = await events();
    const steps = evs.filter((e): e is TrainStepEvent => e.type === 'trainStep' && e.requestId === run);
    const k = running[0].step;
    console.log(`[pair_tokens] ${PAIRS} pairs asked for after step 1 were answered after step ${k}`);
    expect(running.every((t) => t.step === k), 'one step boundary answered them all').toBe(true);
    expect(k).toBeGreaterThanOrEqual(1);
    expect(k, 'answered before the last step (step 2 was running when they were asked for)').toBeLessThan(3);
    // between steps: after trainStep k, before trainStep k + 1
    const at = (requestId: number) => evs.findIndex((e) => e.type === 'pairTokens' && e.requestId === requestId);
    const stepAt = (s: number) => evs.findIndex((e) => e.type === 'trainStep' && e.requestId === run && e.record.step === s);
    expect(steps.length).toBeGreaterThanOrEqual(k);
    for (const t of running) {
      expect(at(t.requestId!)).toBeGreaterThan(stepAt(k));
      if (stepAt(k + 1) >= 0) expect(at(t.requestId!)).toBeLessThan(stepAt(k + 1));
    }
    // step k + 1 trains with the weights the tokens were read from: its pairs' records agree
    const next = await until(page, `step ${k + 1}`, (e) => e.find((x): x is TrainStepEvent => x.type === 'trainStep' && x.requestId === run && x.record.step === k + 1));
    expect(next.record.pairs.length).toBe(4);
    for (const rec of next.record.pairs) expectConsistent(running.find((t) => t.row === rec.row)!, rec, `row ${rec.row}, tokens after step ${k} vs step ${k + 1}'s record`);

    // after the run: at once, after step 3, against the answer's own record; text per token
    await until(page, 'trainingDone', (e) => e.find((x) => x.type === 'trainingDone' && x.requestId === run));
    const after = await send({ type: 'pairTokens', runId, row: 0 });
    const done = await until(page, 'the answer after the run', (e) => e.find((x): x is PairTokensEvent => x.type === 'pairTokens' && x.requestId === after));
    expect(done.step).toBe(3);
    expectConsistent(done, done.record, 'row 0 after the run');
    const line = JSON.parse(LINES[0]) as { chosen: { content: string }[] };
    expect(done.chosen.map((t) => t.text).join('')).toBe(`${line.chosen[0].content}<end_of_turn>\n<eos>`);
    expect(done.promptTokens).toBeGreaterThan(0);
    expect(done.chosen.some((t) => Math.abs(t.logp - (t.refLogp as number)) > 1e-3), 'the adapter moved the policy away from the reference').toBe(true);

    // refusals
    const unknown = await send({ type: 'pairTokens', runId: 'run-nope', row: 0 });
    const badRow = await send({ type: 'pairTokens', runId, row: 999 });
    evs = await until(page, 'the two refusals', (e) => (e.filter((x) => x.type === 'error' && (x.requestId === unknown || x.requestId === badRow)).length === 2 ? e : undefined));
    const err = (id: number) => evs.find((x): x is ErrorEvent => x.type === 'error' && x.requestId === id)!;
    expect(err(unknown)).toMatchObject({ command: 'pairTokens', message: expect.stringMatching(/no weights of run run-nope/), hint: expect.stringMatching(/resume this run \(Runs screen\)/) });
    expect(err(unknown).runId, 'a refusal is not a run failure').toBeUndefined();
    expect(err(badRow)).toMatchObject({ command: 'pairTokens', message: expect.stringMatching(/dataset row 999 is not one of run .*'s 8 training pairs/) });
    await page.close();
  });
});
