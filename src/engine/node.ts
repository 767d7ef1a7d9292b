// Node entry to the engine: builds an Engine on Dawn (npm `webgpu`). Browser code never imports
// this file; it passes navigator.gpu to Engine.create instead.
//
// Without a GPU, Dawn needs a Vulkan software driver: set VK_ICD_FILENAMES yourself, or let
// PREFSTUDIO_ADAPTER choose: `lavapipe` (Mesa ≥ 25, fastest), `swiftshader` (ships with Debian's
// chromium), or `auto` (default: lavapipe if installed, else SwiftShader, else whatever Vulkan
// finds — a real GPU on a developer machine).

import { existsSync, mkdirSync } from 'node:fs';
import { Engine, type EngineOptions } from './engine.ts';
import { NoAdapterError } from './errors.ts';

export const ICDS = {
  lavapipe: '/usr/share/vulkan/icd.d/lvp_icd.json',
  swiftshader: '/usr/lib/chromium/vk_swiftshader_icd.json',
} as const;

/** Picks the Vulkan driver before Dawn loads. Returns the ICD file chosen, if any. */
export function selectIcd(choice = process.env.PREFSTUDIO_ADAPTER ?? 'auto'): string | undefined {
  if (!process.env.XDG_RUNTIME_DIR) {
    const dir = `/tmp/prefstudio-xdg-${process.getuid?.() ?? 0}`;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = dir;
  }
  if (process.env.VK_ICD_FILENAMES) return process.env.VK_ICD_FILENAMES;
  if (choice === 'lavapipe' || choice === 'swiftshader') {
    const icd = ICDS[choice];
    if (!existsSync(icd)) {
      throw new NoAdapterError('node', `PREFSTUDIO_ADAPTER=${choice} but ${icd} does not exist`, 'run `npm test` once (it installs the drivers) or install them: see README');
    }
    process.env.VK_ICD_FILENAMES = icd;
    return icd;
  }
  for (const icd of [ICDS.lavapipe, ICDS.swiftshader]) {
    if (existsSync(icd)) {
      process.env.VK_ICD_FILENAMES = icd;
      return icd;
    }
  }
  return undefined;
}

let gpuPromise: Promise<GPU> | null = null;

/** The process-wide Dawn GPU object (Dawn is loaded once). */
export function nodeGpu(): Promise<GPU> {
  if (!gpuPromise) {
    selectIcd();
    gpuPromise = import('webgpu').then((m) => {
      Object.assign(globalThis, m.globals);
      // Dawn zero-fills workgroup memory itself instead of through Vulkan's extension, which makes
      // SwiftShader compile shaders with large workgroup arrays ~100× faster (measured: 2.3–3.2 s →
      // 16 ms for a 16 KiB array). Results are identical.
      return m.create(['disable-dawn-features=use_vulkan_zero_initialize_workgroup_memory_extension']) as GPU;
    });
  }
  return gpuPromise;
}

/** An Engine on this machine's WebGPU adapter, or a NoAdapterError saying how to get one. */
export async function createNodeEngine(opts: EngineOptions = {}): Promise<Engine> {
  return Engine.create(await nodeGpu(), opts);
}
