// Vite config for the studio (index.html → src/ui/main.tsx) and for the browser GPU suite page
// (e2e/gpu/browser/index.html, served by e2e/chromium.test.ts). Vitest has its own
// vitest.config.ts; this file is for `npm start`, `npm run dev`, `npm run build` and the e2e tests'
// dev server.
//
// WGSL shaders arrive as text through Vite's built-in `?raw` suffix (src/gpu/shaders/index.ts).
// The engine runs in a module Web Worker (src/engine/worker/worker.ts), so workers are ES modules.

import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

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

export default defineConfig({
  root,
  plugins: [react(), nodeOnlyGuard()],
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
