// The page setup every studio test in Chromium shares (e2e/*.chromium.test.ts that drive the
// studio by role and accessible name): a Vite dev server, Debian's Chromium (off the record, or on
// a fresh on-disk profile when IndexedDB must survive a browser restart's worth of reloads), one
// page at 1280 × 900 in the light scheme, and a watch on what must never happen — console errors
// (page and workers), uncaught exceptions, Content-Security-Policy violations (recorded by an init
// script that runs before any page script, so the page's own policy cannot silence it). Plus the
// helpers every such test writes: full-page screenshots into e2e/artifacts/, the no-problems check,
// and a polling wait whose timeout names what it waited for and shows the Run panel.
//
// Usage (vitest): `const studio = useStudioPage({ tag: 'data', shotPrefix: 'data-' });` at the top
// level of a test file registers beforeAll/afterAll; `studio.page` etc. are valid inside tests.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';
import { launchStoreContext } from '../../store/server.ts';
import { forwardConsole, launchChromium, repoRoot, startVite } from './launch.ts';

/** Where the studio tests' screenshots go (git-ignored). */
export const ARTIFACTS = join(repoRoot, 'e2e', 'artifacts');

export interface StudioPageOptions {
  /** Tags the forwarded console output and names the page in failure messages, e.g. 'data'. */
  readonly tag: string;
  /** Screenshot file names start with this (e.g. 'data-' → e2e/artifacts/data-<name>.png). */
  readonly shotPrefix?: string;
  /** Chromium on a fresh on-disk profile (IndexedDB on disk, as users have it) instead of an off-the-record context. */
  readonly onDisk?: boolean;
  /** Permissions granted to the dev server's origin (e.g. clipboard-read). */
  readonly permissions?: readonly string[];
  /** One more script to run in every page before its own scripts (serialised: no closures). */
  readonly initScript?: () => void;
}

export interface StudioPage {
  /** Base URL of the dev server, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  readonly context: BrowserContext;
  readonly page: Page;
  /** A temporary directory of the file's own, removed after it. */
  readonly tmp: string;
  /** Console errors, uncaught exceptions and CSP messages seen so far; splice it to forget expected ones. */
  readonly problems: string[];
  /** A full-page screenshot from the top, transitions ended: e2e/artifacts/<shotPrefix><name>.png. */
  shot(name: string): Promise<void>;
  /** The same screenshot in light and in dark (<name>-light, <name>-dark); the page is left light. */
  shots(name: string): Promise<void>;
  /** Fails listing every console error, uncaught exception and CSP violation since the start. */
  expectNoProblems(where?: string): Promise<void>;
  /** Polls `f` every 250 ms until true; a timeout names `what` and shows the Run panel's text. */
  until(what: string, f: () => Promise<boolean>, timeoutMs?: number): Promise<void>;
}

/** Registers the Vite + Chromium + page lifecycle for the calling test file; see StudioPage. */
export function useStudioPage(opts: StudioPageOptions): StudioPage {
  let vite: Awaited<ReturnType<typeof startVite>> | undefined;
  let close: (() => Promise<void>) | undefined;
  let context: BrowserContext | undefined;
  let page: Page | undefined;
  let tmp = '';
  const problems: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    tmp = mkdtempSync(join(tmpdir(), `prefstudio-${opts.tag}-`));
    vite = await startVite();
    if (opts.onDisk) {
      const b = await launchStoreContext();
      context = b.context;
      close = b.close;
    } else {
      const browser: Browser = await launchChromium();
      close = () => browser.close();
      context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
    }
    if (opts.permissions?.length) await context.grantPermissions([...opts.permissions], { origin: vite.url });
    await context.addInitScript(() => {
      const w = window as unknown as { __csp: string[] };
      w.__csp = [];
      document.addEventListener('securitypolicyviolation', (e) => w.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`));
    });
    if (opts.initScript) await context.addInitScript(opts.initScript);
    page = context.pages()[0] ?? (await context.newPage());
    if (opts.onDisk) {
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.emulateMedia({ colorScheme: 'light' });
    }
    forwardConsole(page, opts.tag);
    page.on('console', (m) => {
      if (m.type() === 'error' || /Content.Security.Policy/i.test(m.text())) problems.push(`console.${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
    page.on('worker', (w) => w.on('console', (m) => m.type() === 'error' && problems.push(`worker console.error: ${m.text()}`)));
  });

  afterAll(async () => {
    await close?.();
    await vite?.server.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const the = <T>(x: T | undefined, what: string): T => {
    if (x === undefined) throw new Error(`studio page (${opts.tag}): ${what} is not there yet — use it inside a test or a later beforeAll, not at the top level`);
    return x;
  };
  const p = (): Page => the(page, 'the page');
  const runPanel = async (): Promise<string> => {
    const region = p().getByRole('region', { name: 'Run' });
    return (await region.count()) ? region.first().innerText({ timeout: 2_000 }) : '(no Run panel on this screen)';
  };
  const shot = async (name: string): Promise<void> => {
    await p().evaluate(() => window.scrollTo(0, 0));
    await p().screenshot({ path: join(ARTIFACTS, `${opts.shotPrefix ?? ''}${name}.png`), fullPage: true, animations: 'disabled' });
  };

  return {
    get url() {
      return the(vite, 'the dev server').url;
    },
    get context() {
      return the(context, 'the browser context');
    },
    get page() {
      return p();
    },
    get tmp() {
      return the(tmp || undefined, 'the temporary directory');
    },
    problems,
    shot,
    async shots(name) {
      for (const scheme of ['light', 'dark'] as const) {
        await p().emulateMedia({ colorScheme: scheme });
        await shot(`${name}-${scheme}`);
      }
      await p().emulateMedia({ colorScheme: 'light' });
    },
    async expectNoProblems(where) {
      const csp = await p().evaluate(() => (window as unknown as { __csp?: string[] }).__csp ?? []);
      expect([...problems, ...csp.map((c) => `CSP violation: ${c}`)], `console errors / CSP violations on ${where ?? `the ${opts.tag} page`}`).toEqual([]);
    },
    async until(what, f, timeoutMs = 300_000) {
      const t0 = Date.now();
      for (;;) {
        if (await f()) return;
        if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}; Run panel: ${await runPanel().catch(() => '?')}`);
        await p().waitForTimeout(250);
      }
    },
  };
}
