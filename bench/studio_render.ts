// What the studio's live dashboard costs a run (issue 10: "updates every step without slowing
// training measurably"): in headless Chromium (Debian's, e2e/gpu/browser/launch.ts; WebGPU on
// whatever adapter it finds, SwiftShader on a machine without a GPU), the built-in demo trains the
// same run twice — once with the Train screen and its live dashboard (charts, the Pairs table, the
// weight histogram, the heatmap) on screen, once with the page on the Model screen from the moment
// the run starts (the baseline: the same worker, the same events, nothing drawn). Each run gets a
// fresh browser context (its own IndexedDB, so no reference cache); the order alternates (live,
// baseline, baseline, live) so a warmer shader cache favours neither.
//
// Figures per case, over the steps after the first (the first compiles the kernels):
//   steps/s               trainStep events arriving at the page per second of the page's clock
//   main thread ms/step   Chromium's main-thread task time (CDP Performance.getMetrics TaskDuration:
//                         scripts, React, uPlot and canvas drawing, style, layout, paint) per step
//   handler ms/step       the trainStep event's handling (series append + store update), and
//   React ms/step         React's render time of the commits in the window, both from the page's
//                         render probe (src/ui/shared/renderProfile.ts, on with ?profile=render only)
// and the ratios live / baseline. The dashboard is redrawn at most once per animation frame, so its
// cost is per frame with a step in it, not per pair.
//
//   npm run bench [-- --json] [-- --quick]          (bench/main.ts runs it last)
//   node --import tsx --import ./scripts/wgsl-register.mjs bench/studio_render.ts [--json] [--quick]
//
// Served two ways (--quick: the production build only): the production build (vite build with react-dom's
// profiling build, so the <Profiler> reports; served by vite preview) and the dev server `npm start`
// runs (development React: StrictMode renders twice, and slower).
//
// Output contract (--json; under "studio_render" in `npm run bench -- --json`): { adapter, pairs,
// batch, steps, cases: [{ served, screen, runs, steps_per_s, main_thread_ms_per_step,
// handler_ms_per_step, react_ms_per_step, commits_per_step }], compare: [{ served,
// steps_per_s_ratio, added_main_thread_ms_per_step }] }

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { build, preview } from 'vite';
import { launchChromium, repoRoot, startVite } from '../e2e/gpu/browser/launch.ts';
import { PROFILE_COMMIT, PROFILE_TRAIN_STEP } from '../src/ui/shared/renderProfile.ts';
import { runIfMain, type BenchOptions } from './common.ts';

type Screen = 'train' | 'model';
/** 'build': `vite build` (production React, its profiling build so the <Profiler> reports) served by vite preview; 'dev': the dev server `npm start` runs (development React, StrictMode's double renders). */
type Served = 'build' | 'dev';

export interface StudioRenderCase {
  served: Served;
  /** 'train': the live dashboard on screen; 'model': the page elsewhere (the baseline). */
  screen: Screen;
  runs: number;
  steps_per_s: number;
  main_thread_ms_per_step: number;
  handler_ms_per_step: number;
  react_ms_per_step: number;
  commits_per_step: number;
}

export interface StudioRenderBench {
  adapter: string;
  pairs: number;
  batch: number;
  steps: number;
  cases: StudioRenderCase[];
  /** Per served build: steps/s with the dashboard on screen over steps/s without it (1 = no slowdown), and the main-thread time per step it adds. */
  compare: { served: Served; steps_per_s_ratio: number; added_main_thread_ms_per_step: number }[];
}

const BATCH = 4;
const PAIRS = 16;

interface RunFigures {
  stepsPerS: number;
  mainMs: number;
  handlerMs: number;
  reactMs: number;
  commits: number;
}

/** Polls `f`; during the measured steps every 2 s, so the polls' own main-thread time stays small (and equal in both cases). */
async function until(page: Page, what: string, f: () => Promise<boolean>, timeoutMs: number, everyMs = 200): Promise<void> {
  const t0 = Date.now();
  while (!(await f())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`studio render bench: timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await page.waitForTimeout(everyMs);
  }
}

/** The studio served as `served`; close() stops the server and removes the build. */
async function serve(served: Served): Promise<{ url: string; close: () => Promise<void> }> {
  if (served === 'dev') {
    const vite = await startVite();
    return { url: vite.url, close: () => vite.server.close() };
  }
  const outDir = mkdtempSync(join(tmpdir(), 'prefstudio-bench-build-'));
  const configFile = join(repoRoot, 'vite.config.ts');
  // react-dom's profiling build: production React whose <Profiler> still reports
  await build({ configFile, root: repoRoot, logLevel: 'error', build: { outDir, emptyOutDir: true }, resolve: { alias: [{ find: /^react-dom\/client$/, replacement: 'react-dom/profiling' }] } });
  const server = await preview({ configFile, root: repoRoot, logLevel: 'warn', build: { outDir }, preview: { host: '127.0.0.1', port: 0 } });
  return {
    url: server.resolvedUrls!.local[0].replace(/\/$/, ''),
    close: async () => {
      await server.close();
      rmSync(outDir, { recursive: true, force: true });
    },
  };
}

/** One run of `steps` steps on the demo with `screen` shown; figures over steps 2…steps. */
async function oneRun(browser: Browser, url: string, screen: Screen, steps: number, data: string): Promise<RunFigures & { adapter: string }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');
    const taskMs = async (): Promise<number> => {
      const { metrics } = await cdp.send('Performance.getMetrics');
      return 1000 * (metrics.find((m) => m.name === 'TaskDuration')?.value ?? NaN);
    };
    await page.goto(`${url}/?profile=render#/data`);
    await page.getByLabel('Choose a preference file…').setInputFiles({ name: `head${PAIRS}.jsonl`, mimeType: 'application/jsonl', buffer: Buffer.from(data) });
    await page.getByRole('link', { name: 'Train', exact: true }).click();
    const wantData = new RegExp(`^head${PAIRS}\\.jsonl · .* · ${PAIRS} pairs`);
    await until(page, 'the preference file on the Train screen', async () => wantData.test(await page.getByTestId('train-data').innerText().catch(() => '')), 60_000);
    await page.getByRole('textbox', { name: /^max_steps/ }).fill(String(steps));
    await page.getByRole('textbox', { name: /^per_device_train_batch_size/ }).fill(String(BATCH));
    await page.getByRole('textbox', { name: /^save_steps/ }).fill(String(steps)); // one checkpoint, after the last step
    const start = page.getByRole('button', { name: 'Start training', exact: true });
    await until(page, 'Start training to be enabled', () => start.isEnabled(), 120_000);
    await start.click();
    if (screen === 'model') await page.getByRole('link', { name: 'Model', exact: true }).click();

    const stepsSeen = (): Promise<number> => page.evaluate((n) => performance.getEntriesByName(n).length, PROFILE_TRAIN_STEP);
    await until(page, 'the first step', async () => (await stepsSeen()) >= 1, 600_000);
    const first = await stepsSeen();
    const task0 = await taskMs();
    await until(page, `step ${steps}`, async () => (await stepsSeen()) >= steps, 600_000 + steps * 120_000, 2000);
    await page.waitForTimeout(500); // the last step's frame is drawn
    const task1 = await taskMs();
    const f = await page.evaluate(
      ([stepName, commitName]) => {
        const st = performance.getEntriesByName(stepName);
        const from = st[0].startTime;
        const to = st[st.length - 1].startTime;
        const commits = performance.getEntriesByName(commitName).filter((c) => c.startTime > from);
        return {
          span: to - from,
          n: st.length,
          handler: st.reduce((a, e) => a + e.duration, 0) / st.length,
          react: commits.reduce((a, e) => a + e.duration, 0),
          commits: commits.length,
        };
      },
      [PROFILE_TRAIN_STEP, PROFILE_COMMIT] as const,
    );
    const adapter = await page.evaluate(async () => {
      const a = await navigator.gpu?.requestAdapter();
      return a ? `${a.info.vendor} ${a.info.architecture} ${a.info.description}`.trim() : 'none';
    });
    if (errors.length > 0) throw new Error(`studio render bench: the page failed: ${errors.join('; ')}`);
    const later = f.n - 1;
    return {
      adapter,
      stepsPerS: later / (f.span / 1000),
      mainMs: (task1 - task0) / (f.n - first),
      handlerMs: f.handler,
      reactMs: f.react / later,
      commits: f.commits / later,
    };
  } finally {
    await context.close();
  }
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

export async function studioRenderBench(opts: BenchOptions): Promise<StudioRenderBench> {
  const steps = opts.quick ? 4 : 6;
  const order: Screen[] = opts.quick ? ['train', 'model'] : ['train', 'model', 'model', 'train'];
  // the dev server first: after vite build, a dev server in the same process serves production React
  const builds: Served[] = opts.quick ? ['build'] : ['dev', 'build'];
  const data = `${readFileSync(join(repoRoot, 'public/demo/preferences/train.jsonl'), 'utf8').split('\n').slice(0, PAIRS).join('\n')}\n`;
  const browser = await launchChromium();
  const runs: { served: Served; screen: Screen; f: RunFigures }[] = [];
  let adapter = '';
  try {
    for (const served of builds) {
      const server = await serve(served);
      try {
        for (const screen of order) {
          opts.log(`studio render (${served}): a ${steps}-step run with the ${screen === 'train' ? 'Train screen (live dashboard)' : 'Model screen (baseline)'} shown…`);
          const { adapter: a, ...f } = await oneRun(browser, server.url, screen, steps, data);
          adapter = a;
          runs.push({ served, screen, f });
        }
      } finally {
        await server.close();
      }
    }
  } finally {
    await browser.close();
  }
  const cases: StudioRenderCase[] = builds.flatMap((served) =>
    (['train', 'model'] as const).map((screen) => {
      const fs = runs.filter((r) => r.served === served && r.screen === screen).map((r) => r.f);
      return {
        served,
        screen,
        runs: fs.length,
        steps_per_s: mean(fs.map((f) => f.stepsPerS)),
        main_thread_ms_per_step: mean(fs.map((f) => f.mainMs)),
        handler_ms_per_step: mean(fs.map((f) => f.handlerMs)),
        react_ms_per_step: mean(fs.map((f) => f.reactMs)),
        commits_per_step: mean(fs.map((f) => f.commits)),
      };
    }),
  );
  const compare = builds.map((served) => {
    const [live, base] = cases.filter((c) => c.served === served);
    return { served, steps_per_s_ratio: live.steps_per_s / base.steps_per_s, added_main_thread_ms_per_step: live.main_thread_ms_per_step - base.main_thread_ms_per_step };
  });
  const out: StudioRenderBench = { adapter, pairs: PAIRS, batch: BATCH, steps, cases, compare };
  const perCase = order.filter((x) => x === 'train').length;
  opts.log(`studio render cost: headless Chromium, WebGPU on ${adapter}; the demo, ${PAIRS} pairs, batch ${BATCH}, ${steps} steps (figures over steps 2…${steps}, mean of ${perCase} run${perCase > 1 ? 's' : ''} each)`);
  opts.log('served  screen shown               steps/s   main thread ms/step   trainStep handler ms   React render ms/step   commits/step');
  for (const c of cases) {
    const name = c.screen === 'train' ? 'Train (live dashboard)' : 'Model (baseline)';
    opts.log(`${c.served.padEnd(7)} ${name.padEnd(24)} ${c.steps_per_s.toFixed(3).padStart(9)}   ${c.main_thread_ms_per_step.toFixed(1).padStart(19)}   ${c.handler_ms_per_step.toFixed(2).padStart(20)}   ${c.react_ms_per_step.toFixed(1).padStart(20)}   ${c.commits_per_step.toFixed(1).padStart(12)}`);
  }
  for (const c of compare) {
    const base = cases.find((x) => x.served === c.served && x.screen === 'model')!;
    opts.log(`${c.served}: live / baseline steps/s ${c.steps_per_s_ratio.toFixed(3)}; the dashboard adds ${c.added_main_thread_ms_per_step.toFixed(1)} ms of main-thread time per step (${((100 * c.added_main_thread_ms_per_step) / (1000 / base.steps_per_s)).toFixed(2)} % of a baseline step)`);
  }
  return out;
}

runIfMain(import.meta.url, studioRenderBench);
