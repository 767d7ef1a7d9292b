// Node side of the weight-store browser tests and bench: Vite on the repository (as
// e2e/gpu/browser/launch.ts does, plus this page and idb-keyval pre-bundled, so the dev server never
// discovers a dependency mid-test and reloads the page) and Debian's Chromium on a fresh on-disk
// profile, with precise memory numbers (performance.memory is otherwise bucketed and delayed).

import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import { CHROMIUM_ARGS, CHROMIUM_PATH, launchChromium, repoRoot } from '../gpu/browser/launch.ts';

/** The page, relative to the dev server's root. */
export const STORE_PAGE = '/e2e/store/index.html';

export async function startStoreVite(): Promise<{ server: ViteDevServer; url: string }> {
  const server = await createServer({
    configFile: `${repoRoot}/vite.config.ts`,
    root: repoRoot,
    cacheDir: `${repoRoot}/node_modules/.vite-e2e-store`,
    logLevel: 'warn',
    clearScreen: false,
    optimizeDeps: { entries: ['e2e/store/index.html'], include: ['idb-keyval'] },
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false, watch: null },
  });
  await server.listen();
  const addr = server.httpServer?.address();
  if (!addr || typeof addr === 'string') throw new Error(`vite dev server has no TCP address (${String(addr)})`);
  return { server, url: `http://127.0.0.1:${addr.port}` };
}

/**
 * Chromium as launchChromium starts it, plus --enable-precise-memory-info, with a persistent
 * profile in a new temporary directory: IndexedDB on disk, as users have it (the contexts of
 * chromium.launch() are off the record, where IndexedDB lives in memory and Storage quota
 * overrides do not apply). close() ends the browser and removes the profile.
 */
export async function launchStoreContext(): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  if (!existsSync(CHROMIUM_PATH)) await launchChromium(); // throws with the install steps
  if (!process.env.XDG_RUNTIME_DIR) {
    const dir = `/tmp/prefstudio-xdg-${process.getuid?.() ?? 0}`;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = dir;
  }
  const profile = mkdtempSync(join(tmpdir(), 'prefstudio-store-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS, '--enable-precise-memory-info'],
    timeout: 60_000,
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
