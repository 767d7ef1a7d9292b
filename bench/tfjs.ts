// TensorFlow.js on its WebGPU backend, on the adapter our engine uses (the same Dawn `GPU` object
// from src/engine/node.ts, so the same Vulkan driver), for the benches' same-run baselines.
//
// Loaded from one ESM bundle that esbuild (a dependency of tsx and vite) makes at start-up from
// tfjs-core's ES modules, its gradient registrations and the webgpu backend: tfjs-core's Node build
// (the package's "main") registers no gradients, and the modules that do cannot be imported by
// Node directly (extensionless specifiers), nor mixed with the Node build (two engines).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { nodeGpu } from '../src/engine/node.ts';

export interface Tfjs {
  tf: typeof import('@tensorflow/tfjs-core');
  backend: { endComputePassEncoder(): void; submitQueue(): void; device: GPUDevice };
  /** Submits everything tfjs has encoded and waits until the GPU has run it. */
  sync(): Promise<void>;
}

let loaded: Promise<Tfjs> | null = null;

/** tfjs-core with the webgpu backend selected (loaded once per process). */
export function loadTfjs(): Promise<Tfjs> {
  loaded ??= (async () => {
    const gpu = await nodeGpu();
    // tfjs-backend-webgpu looks for navigator.gpu.
    if (!(globalThis as { navigator?: unknown }).navigator) Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true });
    Object.defineProperty((globalThis as unknown as { navigator: object }).navigator, 'gpu', { value: gpu, configurable: true });
    const tf = await importBundle();
    await tf.setBackend('webgpu');
    await tf.ready();
    const backend = tf.backend() as unknown as Tfjs['backend'];
    const sync = async (): Promise<void> => {
      backend.endComputePassEncoder();
      backend.submitQueue();
      await backend.device.queue.onSubmittedWorkDone();
    };
    return { tf, backend, sync };
  })();
  return loaded;
}

async function importBundle(): Promise<Tfjs['tf']> {
  const { build } = await import('esbuild');
  const dir = await mkdtemp(join(tmpdir(), 'prefstudio-tfjs-'));
  try {
    const outfile = join(dir, 'tfjs.mjs');
    await build({
      stdin: {
        contents: ["export * from '@tensorflow/tfjs-core';", "import '@tensorflow/tfjs-core/dist/register_all_gradients';", "import '@tensorflow/tfjs-backend-webgpu';"].join('\n'),
        resolveDir: fileURLToPath(new URL('..', import.meta.url)),
        loader: 'js',
      },
      bundle: true,
      format: 'esm',
      platform: 'node',
      mainFields: ['module', 'main'],
      // tfjs's Node platform calls require('util') from inside the ES module
      banner: { js: "import { createRequire as __bench_createRequire } from 'node:module'; const require = __bench_createRequire(import.meta.url);" },
      outfile,
      logLevel: 'error',
    });
    return (await import(pathToFileURL(outfile).href)) as Tfjs['tf'];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
