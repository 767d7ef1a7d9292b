import { defineConfig } from 'vitest/config';

// Tiers (see README "Tests"):
//   src/**/*.test.ts      CPU-only: references, formulas, shapes — no device needed
//   e2e/gpu/node.test.ts  every GPU op case on Dawn (lavapipe or SwiftShader) in Node
//   e2e/chromium.test.ts  the same cases in headless Chromium, driven by Playwright
// Each file runs in its own forked process: Dawn + lavapipe has crashed processes that mix long
// dispatches with CPU work, and a crash must take down one file, not the run.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'e2e/**/*.test.ts'],
    pool: 'forks',
    isolate: true,
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
