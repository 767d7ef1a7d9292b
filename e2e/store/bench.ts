// Chooses the weight store's chunk size: IndexedDB write and read throughput in headless Chromium
// for several chunk sizes (the page's benchIdb). Not a test; run it by hand:
//
//   npx tsx e2e/store/bench.ts [totalMiB=256] [sizes=1,4,16,32,64]
//
// The numbers behind CHUNK_SIZE (src/engine/store/import.ts) come from this script.

import { forwardConsole } from '../gpu/browser/launch.ts';
import { STORE_PAGE, launchStoreContext, startStoreVite } from './server.ts';

const totalMiB = Number(process.argv[2] ?? 256);
const sizes = (process.argv[3] ?? '1,4,16,32,64').split(',').map(Number);

const vite = await startStoreVite();
const browser = await launchStoreContext();
try {
  const page = await browser.context.newPage();
  forwardConsole(page, 'bench');
  await page.goto(`${vite.url}${STORE_PAGE}`);
  await page.waitForFunction(() => window.__store !== undefined);
  console.log(`IndexedDB (on-disk profile) in Chromium ${browser.context.browser()?.version() ?? ''}: ${totalMiB} MiB per size, sequential put then get`);
  console.log('chunk MiB   chunks   write MB/s   read MB/s');
  for (const size of sizes) {
    const [r] = await page.evaluate(([s, t]) => window.__store.benchIdb([s], t), [size, totalMiB] as const);
    console.log(`${String(r.chunkMiB).padStart(9)}   ${String(r.chunks).padStart(6)}   ${r.writeMBs.toFixed(0).padStart(10)}   ${r.readMBs.toFixed(0).padStart(9)}`);
  }
} finally {
  await browser.close();
  await vite.server.close();
}
