// Node side of the browser tests (e2e/chromium.test.ts, e2e/app.test.ts): a Vite dev server on
// the repository (vite.config.ts, a free port, no HMR) and Debian's Chromium driven by
// playwright-core. Never downloads a browser: it uses /usr/bin/chromium (override with CHROMIUM).
//
// WebGPU in headless Chromium: --enable-unsafe-webgpu is what turns navigator.gpu on in
// Debian's chromium 156 on Linux; with no GPU, Dawn picks the SwiftShader Vulkan device that
// chromium ships (/usr/lib/chromium/libvk_swiftshader.so). The other flags keep a headless run
// quiet on a closed network (no update/sync/background connections) and run as root.

import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';

export const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

export const CHROMIUM_PATH = process.env.CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless=new',
  '--enable-unsafe-webgpu',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-quic',
  '--disable-dev-shm-usage',
  // As in src/engine/node.ts: Dawn zero-fills workgroup memory itself; SwiftShader otherwise spends
  // seconds compiling every shader with a large workgroup array.
  '--disable-dawn-features=use_vulkan_zero_initialize_workgroup_memory_extension',
];

/** Starts Vite on the repository root at a free 127.0.0.1 port; returns the server and its base URL. */
export async function startVite(): Promise<{ server: ViteDevServer; url: string }> {
  const server = await createServer({
    configFile: `${repoRoot}/vite.config.ts`,
    root: repoRoot,
    // A cache of its own, so a running `npm start` and the tests never share optimizer state.
    cacheDir: `${repoRoot}/node_modules/.vite-e2e`,
    logLevel: 'warn',
    clearScreen: false,
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false, watch: null },
  });
  await server.listen();
  const addr = server.httpServer?.address();
  if (!addr || typeof addr === 'string') throw new Error(`vite dev server has no TCP address (${String(addr)})`);
  return { server, url: `http://127.0.0.1:${addr.port}` };
}

/** Launches Debian's Chromium headless with WebGPU on; throws with install steps if it is missing. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}.\n---> HINT: run \`npm test\` once as root (it installs it), or \`sudo apt-get install chromium\` (Debian), or set CHROMIUM=/path/to/chromium`,
    );
  }
  if (!process.env.XDG_RUNTIME_DIR) {
    const dir = `/tmp/prefstudio-xdg-${process.getuid?.() ?? 0}`;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = dir;
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
}

/** Prints the page's console errors and uncaught exceptions into the test output, tagged. */
export function forwardConsole(page: Page, tag: string): void {
  page.on('console', (m) => {
    if (m.type() === 'error') console.error(`[${tag} console.error] ${m.text()}`);
  });
  page.on('pageerror', (e) => console.error(`[${tag} uncaught] ${e.stack ?? e.message}`));
  page.on('crash', () => console.error(`[${tag}] the page crashed`));
}
