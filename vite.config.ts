// Vite config for the studio (index.html → src/ui/main.tsx) and for the browser GPU suite page
// (e2e/gpu/browser/index.html, served by e2e/chromium.test.ts). Vitest has its own
// vitest.config.ts; this file is for `npm start`, `npm run dev`, `npm run build` and the e2e tests'
// dev server.
//
// WGSL shaders arrive as text through Vite's built-in `?raw` suffix (src/gpu/shaders/index.ts).
// The engine runs in a module Web Worker (src/engine/worker/worker.ts), so workers are ES modules.
// The studio's Content-Security-Policy is index.html's meta tag; studioCsp() below serves it as a
// header too (dev and preview) and adds the dev server's nonce.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig, type Connect, type Plugin } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * Fails the browser build (and the dev server's transform) when anything imports the Node-only
 * engine entry (src/engine/node.ts: Dawn via the `webgpu` npm package, node:fs). Browser code
 * must pass navigator.gpu to Engine.create instead.
 */
function nodeOnlyGuard(): Plugin {
  const forbidden = [/^webgpu$/, /[\\/]src[\\/]engine[\\/]node(\.ts)?$/];
  return {
    name: 'prefstudio:node-only-guard',
    enforce: 'pre',
    resolveId(source, importer) {
      // Only the browser graph is guarded; SSR/Node environments may use these freely.
      if (this.environment && this.environment.config.consumer !== 'client') return null;
      if (!forbidden.some((re) => re.test(source))) return null;
      throw new Error(
        `${importer ?? '?'} imports "${source}", which is Node-only (Dawn, node:fs) and must never reach the browser bundle.\n` +
          '---> HINT: in the browser create the engine with Engine.create(navigator.gpu) from src/engine/engine.ts',
      );
    },
  };
}

/** The studio's Content-Security-Policy: the content of index.html's meta tag (the one source of it). */
function studioPolicy(): string {
  const html = readFileSync(`${root}/index.html`, 'utf8');
  const m = /<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html);
  if (!m) throw new Error('index.html has no <meta http-equiv="Content-Security-Policy" content="…">: the studio must declare its policy there');
  return m[1];
}

/** `policy` with `source` added to the directives named. */
function withSource(policy: string, directives: string[], source: string): string {
  return policy
    .split(';')
    .map((d) => d.trim())
    .filter(Boolean)
    .map((d) => (directives.includes(d.split(/\s+/)[0]) ? `${d} ${source}` : d))
    .join('; ');
}

/**
 * The studio's CSP beyond the meta tag. A meta tag governs only the page, and only from where it
 * stands; a header also covers what comes before it and the engine worker (a worker takes the
 * policy of its own script's response). So:
 *  - dev server: a random nonce per start (Vite's html.cspNonce puts it on the scripts and styles
 *    it injects: @vite/client, React Refresh's preamble, CSS imported from modules), added to
 *    script-src and style-src of the meta tag; the studio page and every worker script are sent
 *    with that policy as a header. Other pages (e2e test pages) are left alone.
 *  - preview server (the built studio): the meta tag's policy as a header on every response.
 */
function studioCsp(): Plugin[] {
  const policy = studioPolicy();
  const nonce = randomBytes(16).toString('base64');
  const devPolicy = withSource(policy, ['script-src', 'style-src'], `'nonce-${nonce}'`);
  const isStudioPage = (url: string): boolean => /^\/(index\.html)?(\?|#|$)/.test(url);
  const devHeaders: Connect.NextHandleFunction = (req, res, next) => {
    const url = req.url ?? '';
    if (isStudioPage(url) || url.includes('worker_file')) res.setHeader('Content-Security-Policy', devPolicy);
    next();
  };
  return [
    {
      name: 'prefstudio:csp-dev',
      apply: 'serve',
      config: () => ({ html: { cspNonce: nonce } }),
      configureServer(server) {
        server.middlewares.use(devHeaders);
      },
      transformIndexHtml: {
        order: 'pre',
        handler(html, ctx) {
          if (ctx.filename !== `${root}index.html` || !ctx.server) return html;
          return html.replace(`content="${policy}"`, `content="${devPolicy}"`);
        },
      },
      configurePreviewServer(server) {
        server.middlewares.use((_req, res, next) => {
          res.setHeader('Content-Security-Policy', policy);
          next();
        });
      },
    },
  ];
}

export default defineConfig({
  root,
  plugins: [react(), nodeOnlyGuard(), ...studioCsp()],
  worker: { format: 'es', plugins: () => [nodeOnlyGuard()] },
  optimizeDeps: {
    // Scan both pages up front so the dev server never re-optimizes (and reloads) mid-test.
    entries: ['index.html', 'e2e/gpu/browser/index.html'],
    // The engine worker's dependencies: the scan above does not follow `new Worker(new URL(…))`,
    // and a dependency found later makes the dev server re-optimize and reload the page (e.g. in
    // the middle of an import). idb-keyval is the weight store's (src/engine/store/kv_idb.ts);
    // hyparquet and the tokenizer's libraries are the training runs' (worker/training.ts).
    include: ['idb-keyval', 'hyparquet', '@huggingface/tokenizers', '@huggingface/jinja'],
  },
  build: {
    target: 'es2022',
    // The studio only; the GPU suite page is served by the dev server in tests, never built.
    rollupOptions: { input: fileURLToPath(new URL('./index.html', import.meta.url)) },
  },
  server: { host: '127.0.0.1' },
});
