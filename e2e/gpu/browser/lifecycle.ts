// Vitest lifecycle shared by the Chromium tests that need a Vite dev server and a fresh browser
// (e2e/app.test.ts, e2e/chromium.test.ts): started once per file, closed after it.
import { afterAll, beforeAll } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium, startVite } from './launch.ts';

export interface ViteAndChromium {
  /** Base URL of the dev server. */
  readonly url: string;
  readonly browser: Browser;
}

export function useViteAndChromium(): ViteAndChromium {
  let vite: Awaited<ReturnType<typeof startVite>> | undefined;
  let browser: Browser | undefined;
  beforeAll(async () => {
    vite = await startVite();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await vite?.server.close();
  });
  return {
    get url() {
      return vite!.url;
    },
    get browser() {
      return browser!;
    },
  };
}
