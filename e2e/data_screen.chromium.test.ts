// The studio's Data screen in headless Chromium, driven by role and accessible name:
//   1. the demo set is preloaded when the screen opens: its form named (TRL conversational), 331
//      pairs tokenised with the demo model's tokenizer, the first pairs decoded with the Gemma chat
//      template (as text), the token-length histogram drawn;
//   2. max_length / max_prompt_length (TRL names) change the truncated count — to the numbers the
//      trainer's own path (prepareExamples, run here in Node) gives — and the histogram marks
//      max_length; a combination TRL 0.9.6 refuses is explained;
//   3. a malformed JSONL picked through the file input (found by its label's visible text) lists
//      its bad rows by line with their reasons, and still previews the good ones; a file that is
//      no dataset says what to do; "Use the demo set" goes back;
//   4. light and dark, 1280 and 1024 px (no sideways scroll); no console error or CSP violation;
//   5. a generated 20,000-row file is read and tokenised in the engine worker: animation frames keep
//      coming, a click on a navigation link is handled within 200 ms, progress shows % and pairs/s,
//      and the demo set picked meanwhile supersedes it.
// Screenshots: e2e/artifacts/data-*.png (git-ignored).

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../src/engine/data/dataset.ts';
import { prepareExamples } from '../src/engine/data/examples.ts';
import { loadTokenizer } from '../src/engine/data/tokenizer.ts';
import { repoRoot } from './gpu/browser/launch.ts';
import { useStudioPage } from './gpu/browser/studio_page.ts';

const DEMO_SET = join(repoRoot, 'public/demo/preferences/train.jsonl');

const studio = useStudioPage({ tag: 'data', shotPrefix: 'data-' });
const vite = studio; // the dev server, as the tests below name it (vite!.url)
let page: Page;
let tmp = '';
beforeAll(() => {
  page = studio.page;
  tmp = studio.tmp;
});
const { shot } = studio;
const expectNoProblems = (): Promise<void> => studio.expectNoProblems('the Data screen');
const attr = (testId: string, name: string): Promise<string | null> => page.getByTestId(testId).getAttribute(name);
const ready = (): Promise<unknown> => page.waitForSelector('[data-testid=data-status][data-status=ready]', { timeout: 60_000 });

/** What the trainer's own path makes of the demo set at these limits: pairs truncated, pairs dropped. */
async function trainerCounts(maxLength: number, maxPromptLength: number): Promise<[number, number]> {
  const json = (p: string): object => JSON.parse(readFileSync(join(repoRoot, p), 'utf8')) as object;
  const tok = loadTokenizer(json('public/demo/model/tokenizer.json'), json('public/demo/model/tokenizer_config.json'));
  const ds = await loadDataset('train.jsonl', readFileSync(DEMO_SET));
  const r = prepareExamples(ds.rows, { file: ds.file, lines: ds.lines, tokenizer: tok, vocabSize: 512, maxLength, maxPromptLength });
  return [r.examples.filter((x) => x.truncated).length, r.dropped.length];
}

/** Types into a limit field (found by its label, the TRL name) and waits for the counts to follow. */
async function setLimit(name: 'max_length' | 'max_prompt_length', value: number): Promise<void> {
  await page.getByLabel(name, { exact: true }).fill(String(value));
  await expect.poll(() => page.getByLabel(name, { exact: true }).inputValue()).toBe(String(value));
}

describe('Data screen (chromium)', () => {
  it('preloads the demo set: its form, pairs with the chat template, the histogram', async () => {
    await page.goto(`${vite!.url}/#/data`);
    await ready();
    expect(await page.getByRole('heading', { name: 'Data', level: 2 }).count()).toBe(1);
    expect(await page.getByRole('link', { name: 'Data', exact: true }).getAttribute('aria-current')).toBe('page');
    expect(await attr('data-source', 'data-kind')).toBe('demo');
    expect(await page.getByTestId('data-source').innerText()).toMatch(/^train\.jsonl \(the demo set\) · 65\.8 KB$/);
    expect(await page.getByTestId('data-format').innerText()).toMatch(/^TRL conversational: "prompt", "chosen" and "rejected" are lists of \{role, content\} messages/);
    const counts = page.getByTestId('data-counts');
    expect([await counts.getAttribute('data-rows'), await counts.getAttribute('data-pairs'), await counts.getAttribute('data-malformed')]).toEqual(['331', '331', '0']);
    expect(await page.getByTestId('data-issues').count()).toBe(0);

    // the first pairs as the model reads them: train.jsonl line 1 through the Gemma template, as text
    const pairs = page.getByTestId('data-pair');
    expect(await pairs.count()).toBe(3);
    const first = pairs.first();
    expect(await first.getAttribute('data-row')).toBe('line 1');
    expect(await first.getByTestId('data-pair-prompt').innerText()).toBe('<bos><start_of_turn>user\nWhat is 3 times 7?<end_of_turn>\n<start_of_turn>model\n');
    expect(await first.getByTestId('data-pair-chosen').innerText()).toBe('3 times 7 is 21.<end_of_turn>\n<eos>');
    expect(await first.getByTestId('data-pair-rejected').innerText()).toBe('I think it is 22.<end_of_turn>\n<eos>');
    expect(await page.locator('[data-testid=data-pair] pre span.special').count()).toBeGreaterThan(0); // special tokens set apart, as text

    // the histogram: shared bins, bars of both series, a caption with the longest pair
    const hist = page.getByTestId('data-histogram');
    expect(Number(await hist.getAttribute('data-bins'))).toBeGreaterThan(5);
    expect(await hist.locator('rect.bar.chosen').count()).toBeGreaterThan(5);
    expect(await hist.locator('rect.bar.rejected').count()).toBeGreaterThan(5);
    expect(await hist.getByRole('img').count()).toBe(1);
    expect(await hist.locator('figcaption').innerText()).toMatch(/of 331 pairs: the median pair is \d+ tokens .*, the longest \d+ \(line \d+\)\.$/);
    // the defaults (TRL 0.9.6: 512 / 128) cut nothing; max_length is off the chart
    expect(await page.getByLabel('max_length', { exact: true }).inputValue()).toBe('512');
    expect(await page.getByLabel('max_prompt_length', { exact: true }).inputValue()).toBe('128');
    expect(await attr('data-truncation', 'data-truncated')).toBe('0');
    expect(await page.getByTestId('data-histogram-note').innerText()).toMatch(/^max_length 512 is above the longest sequence/);
    await shot('demo-light');
    await expectNoProblems();
  });

  it('the truncation count follows max_length and max_prompt_length, as the trainer counts', async () => {
    await setLimit('max_prompt_length', 16);
    await setLimit('max_length', 40);
    const [truncated40, dropped40] = await trainerCounts(40, 16);
    expect(truncated40).toBeGreaterThan(0);
    expect(truncated40).toBeLessThan(331);
    await expect.poll(() => attr('data-truncation', 'data-truncated')).toBe(String(truncated40));
    expect(await attr('data-truncation', 'data-dropped')).toBe(String(dropped40));
    expect(await page.getByTestId('data-truncation').innerText()).toMatch(new RegExp(`^With max_length 40 and max_prompt_length 16: ${truncated40} of 331 pairs are truncated \\(the prompt cut in \\d+(, an answer cut in \\d+)?\\) and 0 dropped\\.`));
    expect(await page.getByTestId('data-histogram-limit').count()).toBe(1); // the line is on the chart now

    await setLimit('max_length', 30);
    const [truncated30] = await trainerCounts(30, 16);
    expect(truncated30).not.toBe(truncated40);
    await expect.poll(() => attr('data-truncation', 'data-truncated')).toBe(String(truncated30));
    // the preview shows the pairs as trained: line 1's prompt keeps its last 16 tokens, its answers 14
    const first = page.getByTestId('data-pair').first();
    expect(await first.locator('.badge', { hasText: 'truncated' }).count()).toBe(1);
    expect(await first.getByRole('heading', { name: /^Prompt/ }).innerText()).toBe('Prompt 16 of 21 tokens');
    expect(await first.getByRole('heading', { name: /^Chosen/ }).innerText()).toBe('Chosen 12 tokens');
    expect(await first.getByTestId('data-pair-prompt').innerText()).not.toContain('<bos>');
    await shot('truncated-light');

    // a combination TRL 0.9.6 cannot run is explained, and nothing is counted
    await setLimit('max_prompt_length', 64);
    const refusal = page.getByTestId('data-settings-problem');
    await refusal.waitFor();
    expect(await refusal.innerText()).toMatch(/max_prompt_length < max_length, got 64 ≥ 30/);
    expect(await page.getByTestId('data-truncation').count()).toBe(0);

    // back to the defaults: nothing cut
    await setLimit('max_prompt_length', 128);
    await setLimit('max_length', 512);
    await expect.poll(() => attr('data-truncation', 'data-truncated')).toBe('0');
    expect(await page.getByTestId('data-settings-problem').count()).toBe(0);
    await expectNoProblems();
  });

  it('a malformed JSONL through the file input lists its bad rows by line, with reasons', async () => {
    const good = (q: string, c: string, r: string): string => JSON.stringify({ prompt: [{ role: 'user', content: q }], chosen: [{ role: 'assistant', content: c }], rejected: [{ role: 'assistant', content: r }] });
    const lines = [
      good('What is 1 plus 1?', '2.', '3.'), // 1: fine
      '{"prompt": "What is 2 plus 2?", "chosen": "4.",', // 2: not JSON
      JSON.stringify({ prompt: 'What is 3 plus 3?', chosen: '6.' }), // 3: no rejected
      JSON.stringify({ prompt: 'What is 4 plus 4?', chosen: '', rejected: '9.' }), // 4: empty answer
      good('What is 5 plus 5?', '10.', '11.'), // 5: fine
      JSON.stringify({ prompt: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }], chosen: [{ role: 'assistant', content: 'Hello.' }], rejected: [{ role: 'assistant', content: 'Go.' }] }), // 6: the template refuses
      '', // blank lines are skipped
      JSON.stringify({ prompt: 'What is 7 plus 7?', chosen: '14.', rejected: '15.', score_chosen: 9, score_rejected: 1, id: 'x7' }), // 8: fine (standard)
    ];
    const file = join(tmp, 'my_prefs.jsonl');
    writeFileSync(file, `${lines.join('\n')}\n`);

    // the picker is found by the visible text of its label
    const picker = page.getByLabel('Choose a preference file…', { exact: true });
    expect(await picker.count()).toBe(1);
    await picker.setInputFiles(file);
    await page.waitForSelector('[data-testid=data-source][data-kind=file]');
    await ready();

    const issues = page.getByTestId('data-issue');
    expect(await issues.evaluateAll((rows) => rows.map((r) => r.getAttribute('data-row')))).toEqual(['line 2', 'line 3', 'line 4', 'line 6']);
    const text = await issues.allInnerTexts();
    expect(text[0]).toMatch(/^line 2\tThe row is not valid JSON \(.+\)\.\tEach non-blank line of a \.jsonl file must be one complete JSON object/);
    expect(text[1]).toMatch(/^line 3\trejected is missing; expected a non-empty string or a non-empty list of \{role, content\} messages\./);
    expect(text[2]).toMatch(/^line 4\tchosen is an empty string: an empty completion has no token to score\./);
    expect(text[3]).toMatch(/^line 6\tprompt cannot be rendered: the chat template raised "System role not supported"\.\tGemma-2 has no system role/);
    expect(await page.getByRole('table', { name: 'Malformed rows' }).count()).toBe(1);
    expect(await page.getByTestId('data-issues').innerText()).toMatch(/4 of 7 rows are malformed \(rows are named by their line in the file, counting from 1\)\. Training refuses this file/);
    const counts = page.getByTestId('data-counts');
    expect([await counts.getAttribute('data-rows'), await counts.getAttribute('data-pairs'), await counts.getAttribute('data-malformed')]).toEqual(['7', '3', '4']);

    // the good rows are still recognised and previewed
    expect(await page.locator('[data-testid=data-format] [data-shape]').evaluateAll((ps) => ps.map((p) => p.getAttribute('data-shape')))).toEqual(['conversational', 'standard']);
    expect(await page.getByTestId('data-columns').innerText()).toMatch(/score_chosen \(gpo\), score_rejected \(gpo\)[\s\S]*Not used, as TRL ignores them: id\./);
    expect(await page.getByTestId('data-pair').evaluateAll((ps) => ps.map((p) => p.getAttribute('data-row')))).toEqual(['line 1', 'line 5', 'line 8']);
    expect(await page.getByTestId('data-pair').nth(2).getByTestId('data-pair-prompt').innerText()).toBe('<bos>What is 7 plus 7?');
    await shot('malformed-light');
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot('malformed-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    await expectNoProblems();
  });

  it('a file that is no dataset says what to do; the demo set comes back; dark and 1024 px', async () => {
    const notes = join(tmp, 'notes.txt');
    writeFileSync(notes, 'just some notes\n');
    await page.getByLabel('Choose a preference file…', { exact: true }).setInputFiles(notes);
    const error = page.getByTestId('data-error');
    await error.waitFor();
    expect(await error.getAttribute('role')).toBe('alert');
    expect(await error.innerText()).toMatch(/notes\.txt is not a dataset file this reader knows \(its name must end with \.jsonl, \.json or \.parquet\)\.[\s\S]*What to do\s+Save the preference rows as JSON lines/);
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('data-error');
    await shot('error-light');

    await page.getByRole('button', { name: 'Use the demo set' }).click();
    await ready();
    expect(await attr('data-source', 'data-kind')).toBe('demo');
    expect(await page.getByTestId('data-error').count()).toBe(0);
    expect(await attr('data-counts', 'data-pairs')).toBe('331');

    await page.emulateMedia({ colorScheme: 'dark' });
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(bg).toBe('rgb(13, 17, 23)');
    await shot('demo-dark');
    await page.setViewportSize({ width: 1024, height: 800 });
    const w = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
    expect(w.scroll, 'the Data screen scrolls sideways at 1024 px').toBeLessThanOrEqual(w.client);
    await shot('demo-dark-1024');
    await page.emulateMedia({ colorScheme: 'light' });
    await shot('demo-light-1024');
    await expectNoProblems();
  });

  it('a large file is read and tokenised in the engine worker: frames keep coming, a click is handled at once, progress shows %', async () => {
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${vite!.url}/#/data`); // a fresh page (the demo set preloaded), also when run alone
    await ready();
    // 20,000 UltraFeedback-style rows (a text prompt beside chosen / rejected conversations), ~1.5 KB each:
    // on the page's thread, parsing and checking them alone would hold it for a good part of a second
    const words = (i: number, n: number): string => Array.from({ length: n }, (_, k) => `word${(i * 7 + k * 13) % 1000}`).join(' ');
    const rows = Array.from({ length: 20_000 }, (_, i) => {
      const prompt = `Question ${i}: ${words(i, 30)}?`;
      const turn = (answer: string): { role: string; content: string }[] => [{ role: 'user', content: prompt }, { role: 'assistant', content: answer }];
      return JSON.stringify({ prompt, chosen: turn(`A good answer: ${words(i + 1, 60)}.`), rejected: turn(`A worse answer: ${words(i + 2, 70)}.`), score_chosen: 8, score_rejected: 3 });
    });
    const file = join(tmp, 'large_prefs.jsonl');
    writeFileSync(file, `${rows.join('\n')}\n`);

    // from the pick until tokenising is well under way: the gaps between animation frames, and the
    // page thread's long tasks (≥ 50 ms, the Long Tasks API). Reading and checking these rows on the
    // page's thread held it for ~1 s in one task (measured on an idle machine) before the work moved
    // into the worker; what is left on it is the browser reading the picked file's bytes for the
    // Train screen (File.arrayBuffer, in tasks of ~50–100 ms on this 2-core machine under load)
    await page.evaluate(() => {
      const w = window as unknown as { __frames: { gaps: number[]; count: number; on: boolean; tasks: number[]; observer: PerformanceObserver } };
      const tasks: number[] = [];
      const observer = new PerformanceObserver((list) => void tasks.push(...list.getEntries().map((e) => e.duration)));
      observer.observe({ type: 'longtask' });
      const f = (w.__frames = { gaps: [] as number[], count: 0, on: true, tasks, observer });
      let last = performance.now();
      const tick = (t: number): void => {
        f.gaps.push(t - last);
        last = t;
        f.count++;
        if (f.on) requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    await page.getByLabel('Choose a preference file…', { exact: true }).setInputFiles(file);
    await page.waitForSelector('[data-testid=data-source][data-kind=file]');
    const progress = page.getByTestId('data-progress');
    await progress.waitFor({ timeout: 60_000 });
    await expect.poll(() => progress.innerText(), { timeout: 60_000 }).toMatch(/^Tokenising: [\d,]+ of 20,000 pairs \([1-9]\d*%, [\d,]+ pairs\/s\)…$/);
    const frames = await page.evaluate(() => {
      const f = (window as unknown as { __frames: { gaps: number[]; count: number; on: boolean; tasks: number[]; observer: PerformanceObserver } }).__frames;
      f.on = false;
      f.observer.disconnect();
      const top = (v: number[]): number[] => [...v].sort((a, b) => b - a).slice(0, 5).map(Math.round);
      return { maxGap: Math.max(...f.gaps), count: f.count, slowest: top(f.gaps), longestTask: Math.max(0, ...f.tasks), tasks: top(f.tasks) };
    });
    expect(await page.getByTestId('data-format').innerText()).toMatch(/^UltraFeedback-style: /);
    expect(await attr('data-counts', 'data-rows')).toBe('20000');

    // a click on a navigation link while the worker tokenises: its handler runs within 200 ms of the input
    await page.evaluate(() => {
      const w = window as unknown as { __clickDelay: number | null };
      w.__clickDelay = null;
      document.addEventListener('click', (e) => void (w.__clickDelay = performance.now() - e.timeStamp), { capture: true, once: true });
    });
    await page.getByRole('link', { name: 'Model', exact: true }).click();
    await page.getByRole('heading', { name: 'Model', level: 2 }).waitFor({ timeout: 5_000 });
    const clickDelay = await page.evaluate(() => (window as unknown as { __clickDelay: number | null }).__clickDelay);
    await page.getByRole('link', { name: 'Data', exact: true }).click();
    expect(await attr('data-status', 'data-status')).toBe('tokenizing'); // still at it, in the worker
    await shot('large-progress-light');
    console.log(`[data] large file: longest frame gaps ${frames.slowest.join(', ')} ms over ${frames.count} frames; longest tasks on the page's thread ${frames.tasks.join(', ') || 'none ≥ 50'} ms; click handled ${clickDelay?.toFixed(0)} ms after the input`);
    expect(clickDelay, 'the click on "Model" waited for the page\'s thread').not.toBeNull();
    expect(clickDelay!).toBeLessThan(200);
    // wall-clock times on a shared 2-core machine that draws in software (SwiftShader) while the worker
    // works: a few hundred ms of scheduling noise is allowed, not the old one-second task
    expect(frames.longestTask, 'a task held the page\'s thread while the file was read and tokenised').toBeLessThan(500);
    expect(frames.count, 'animation frames stopped while the file was read and tokenised').toBeGreaterThan(20);
    expect(frames.maxGap, 'the page stopped drawing frames while the file was read and tokenised').toBeLessThan(1000);

    // the demo set supersedes the running preview: the worker stops it and nothing of it comes back
    await page.getByRole('button', { name: 'Use the demo set' }).click();
    await ready();
    await new Promise((r) => setTimeout(r, 1_000));
    expect([await attr('data-source', 'data-kind'), await attr('data-counts', 'data-rows'), await attr('data-counts', 'data-pairs'), await attr('data-status', 'data-status')]).toEqual(['demo', '331', '331', 'ready']);
    await expectNoProblems();
  });
});
