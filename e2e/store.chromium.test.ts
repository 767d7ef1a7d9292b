// The weight store in headless Chromium: real IndexedDB through idb-keyval, File/Blob sources and
// the GPU from navigator.gpu (SwiftShader here), driven through the page e2e/store/index.html
// (`window.__store`, e2e/store/main.ts).
//   1. A fixture imported through IndexedDB is still listed after a reload, its stored bytes equal
//      the files', and it streams to the GPU with exactly the files' values.
//   2. Interrupted imports — aborted, or the page reloaded mid-copy — list nothing new, keep the
//      earlier model, and resume; delete frees the space; too little space is refused up front.
//      The origin's quota running out mid-copy (a real QuotaExceededError) removes the partial copy.
//   3. A ≥ 256 MB synthetic checkpoint, streamed from Blob parts into IndexedDB and on to the GPU,
//      with the JS heap sampled throughout: its growth stays under 4 chunks + a fixed margin.
// No adapter is a failure, never a skip.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import type { ViteDevServer } from 'vite';
import { forwardConsole, repoRoot } from './gpu/browser/launch.ts';
import { STORE_PAGE, launchStoreContext, startStoreVite } from './store/server.ts';

const FIXTURES = join(repoRoot, 'e2e', 'fixtures', 'checkpoints');
const files = (name: string): string[] => readdirSync(join(FIXTURES, name)).sort();
const MiB = 1 << 20;

let vite: { server: ViteDevServer; url: string } | undefined;
const open: (() => Promise<void>)[] = [];

beforeAll(async () => {
  vite = await startStoreVite();
});

afterAll(async () => {
  for (const close of open) await close();
  await vite?.server.close();
});

/** Chromium on a fresh on-disk profile (empty IndexedDB) with the page open and ready. */
async function openPage(): Promise<{ context: BrowserContext; page: Page; close: () => Promise<void> }> {
  const { context, close } = await launchStoreContext();
  open.push(close);
  const page = context.pages()[0] ?? (await context.newPage());
  forwardConsole(page, 'store');
  await page.goto(`${vite!.url}${STORE_PAGE}`);
  await page.waitForFunction(() => window.__store !== undefined, null, { timeout: 60_000 });
  const closeNow = async (): Promise<void> => {
    open.splice(open.indexOf(close), 1);
    await close();
  };
  return { context, page, close: closeNow };
}

async function reload(page: Page): Promise<void> {
  await page.reload();
  await page.waitForFunction(() => window.__store !== undefined, null, { timeout: 60_000 });
}

const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;

/** A 24 MB bf16 Gemma-2 shape in 1 MiB chunks, incompressible values (IndexedDB compresses). */
const SYNTH_24MB = {
  config: { vocab_size: 8192, hidden_size: 512, intermediate_size: 2048, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 128, query_pre_attn_scalar: 128 },
  dtype: 'BF16',
  chunkSize: MiB,
  name: 'synthetic-24mb',
  values: 'noise',
} as const;

describe('weight store in Chromium (IndexedDB → WebGPU)', () => {
  it('a fixture imported through IndexedDB is listed after a reload and streams to the GPU exactly', async () => {
    const { page, close } = await openPage();
    for (const name of ['tiny-bf16-3shard', 'tiny-f32-1shard']) {
      const r = await page.evaluate(([n, f]) => window.__store.importFixture(n, f, { chunkSize: 4096 }), [name, files(name)] as const);
      expect(r, JSON.stringify(r)).toMatchObject({ ok: true, chunksSkipped: 0 });
    }
    await reload(page);
    const list = await page.evaluate(() => window.__store.list());
    expect(list.map((m) => m.name)).toEqual(['tiny-bf16-3shard', 'tiny-f32-1shard']);
    for (const m of list) {
      const v = await page.evaluate(([id, n, f]) => window.__store.verifyFixture(id, n, f), [m.id, m.name, files(m.name)] as const);
      expect(v, JSON.stringify(v)).toMatchObject({ ok: true });
      if (v.ok) console.log(`[store chromium] ${m.name}: ${v.tensors} tensors, ${v.bytes} bytes equal in IndexedDB and on the GPU (${v.adapter})`);
    }
    await close();
  });

  it('interrupted imports list nothing new, keep the earlier model, and resume; delete frees the space; too little space is refused', async () => {
    const { page, close } = await openPage();
    const first = await page.evaluate((f) => window.__store.importFixture('tiny-f32-1shard', f, { chunkSize: 4096 }), files('tiny-f32-1shard'));
    expect(first.ok).toBe(true);
    const firstId = first.ok ? first.id : '';
    const listed = async (): Promise<string[]> => (await page.evaluate(() => window.__store.list())).map((m) => m.id);

    // --- aborted through the AbortSignal
    const aborted = await page.evaluate((f) => window.__store.importFixture('tiny-l3-f32-2shard', f, { chunkSize: 1024, abortAtPercent: 50 }), files('tiny-l3-f32-2shard'));
    expect(aborted).toMatchObject({ ok: false, name: 'AbortError' });
    expect(await listed()).toEqual([firstId]);
    const resumed = await page.evaluate((f) => window.__store.importFixture('tiny-l3-f32-2shard', f, { chunkSize: 1024 }), files('tiny-l3-f32-2shard'));
    expect(resumed.ok && resumed.chunksSkipped > 0 && resumed.chunksWritten > 0, JSON.stringify(resumed)).toBe(true);
    expect((await listed()).length).toBe(2);

    // --- the page goes away mid-copy (a closed tab): a 24 MB synthetic model in 1 MiB chunks, read
    // from a "slow disk" (20 ms per read) so that the reload lands mid-copy
    const synth = SYNTH_24MB;
    await page.evaluate((o) => window.__store.prepareSynthetic({ ...o, readDelayMs: 20 }), synth);
    await page.evaluate(() => void window.__store.importSynthetic());
    await page.waitForFunction(() => (window.__store.progress?.phase === 'copy' ? window.__store.progress.percent : 0) >= 40, null, { polling: 5, timeout: 60_000 });
    await reload(page);
    expect((await listed()).sort()).toEqual([firstId, resumed.ok ? resumed.id : ''].sort());
    const pending = await page.evaluate(() => window.__store.incomplete());
    expect(pending.map((p) => p.name)).toEqual(['synthetic-24mb']);
    const chunksLeft = (await page.evaluate((id) => window.__store.keys(`data/${id}/`), pending[0].id)).length;
    expect(chunksLeft).toBeGreaterThan(5);
    await page.evaluate((o) => window.__store.prepareSynthetic(o), synth);
    const again = await page.evaluate(() => window.__store.importSynthetic());
    expect(again, JSON.stringify(again)).toMatchObject({ ok: true, id: pending[0].id });
    if (again.ok) {
      expect(again.chunksSkipped).toBeGreaterThanOrEqual(chunksLeft - 1); // the chunk being written at the reload may be lost
      console.log(`[store chromium] reload mid-copy: ${chunksLeft} chunks survived; the resume skipped ${again.chunksSkipped} and wrote ${again.chunksWritten}`);
    }
    expect(await page.evaluate(() => window.__store.incomplete())).toEqual([]);

    // --- delete frees every key of the model, and the space
    const before = await page.evaluate(() => window.__store.estimate());
    await page.evaluate((id) => window.__store.remove(id), pending[0].id);
    expect(await page.evaluate((id) => window.__store.keys(`data/${id}/`), pending[0].id)).toEqual([]);
    expect((await listed()).length).toBe(2);
    const after = await page.evaluate(() => window.__store.estimate());
    console.log(`[store chromium] delete: IndexedDB usage ${mb(before.usage)} → ${mb(after.usage)}`);
    expect(before.usage - after.usage).toBeGreaterThan(20e6);

    // --- too little free space by navigator.storage.estimate(): refused before anything is written.
    // (Chromium's estimate does not follow CDP quota overrides, so the page's estimate is replaced.)
    const keysBefore = await page.evaluate(() => window.__store.keys(''));
    await page.evaluate((o) => window.__store.prepareSynthetic(o), synth);
    await page.evaluate(() => {
      const real = navigator.storage.estimate.bind(navigator.storage);
      (window as unknown as { __realEstimate: typeof real }).__realEstimate = real;
      navigator.storage.estimate = async () => ({ quota: 20e6, usage: 15e6 });
    });
    const refused = await page.evaluate(() => window.__store.importSynthetic());
    await page.evaluate(() => (navigator.storage.estimate = (window as unknown as { __realEstimate: StorageManager['estimate'] }).__realEstimate));
    expect(refused).toMatchObject({ ok: false, name: 'LoadError' });
    if (!refused.ok) {
      expect(refused.message).toMatch(/^synthetic-24mb: needs 24\.1 MB of storage but only 5\.0 MB is free in the IndexedDB prefstudio\/weights \(navigator\.storage\.estimate\(\): quota 20\.0 MB, used 15\.0 MB\)/);
      console.log(`[store chromium] not enough space: ${refused.message.split('\n')[0]}`);
    }
    expect(await page.evaluate(() => window.__store.keys(''))).toEqual(keysBefore);
    const check = await page.evaluate(([id, f]) => window.__store.verifyFixture(id, 'tiny-f32-1shard', f), [firstId, files('tiny-f32-1shard')] as const);
    expect(check, JSON.stringify(check)).toMatchObject({ ok: true }); // the first model survived it all
    await close();
  });

  it('the store fills up mid-copy (a real QuotaExceededError): nothing listed, the partial copy removed, the earlier model intact', async () => {
    const { context, page, close } = await openPage();
    // Chromium's IndexedDB caches the quota once it has written, so the quota is lowered (through
    // CDP) before the first write: 12 MB, which the fixture fits and the 24 MB model does not.
    // navigator.storage.estimate() does not follow CDP overrides, so the up-front check passes, as
    // when an estimate is optimistic.
    const cdp = await context.newCDPSession(page);
    const origin = new URL(vite!.url).origin;
    await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 12e6 });
    const first = await page.evaluate((f) => window.__store.importFixture('tiny-f32-1shard', f, { chunkSize: 4096 }), files('tiny-f32-1shard'));
    expect(first.ok).toBe(true);
    const keysBefore = await page.evaluate(() => window.__store.keys(''));
    await page.evaluate((o) => window.__store.prepareSynthetic(o), SYNTH_24MB);
    const full = await page.evaluate(() => window.__store.importSynthetic());
    await cdp.send('Storage.overrideQuotaForOrigin', { origin }); // back to the default
    expect(full).toMatchObject({ ok: false, name: 'LoadError' });
    if (!full.ok) {
      expect(full.message).toMatch(/^synthetic-24mb: the IndexedDB prefstudio\/weights became full while storing the model: it needs 24\.1 MB in all, [0-9.]+ MB were written when the store refused more \(QuotaExceededError/);
      expect(full.message).toMatch(/nothing was listed and the [0-9.]+ MB written by this import were removed/);
      console.log(`[store chromium] quota reached mid-copy: ${full.message.split('\n')[0]}`);
    }
    expect(await page.evaluate(() => window.__store.keys(''))).toEqual(keysBefore); // partial chunks gone, earlier model intact
    expect(await page.evaluate(() => window.__store.incomplete())).toEqual([]);
    expect((await page.evaluate(() => window.__store.list())).map((m) => m.name)).toEqual(['tiny-f32-1shard']);
    const check = await page.evaluate(([id, f]) => window.__store.verifyFixture(id, 'tiny-f32-1shard', f), [first.ok ? first.id : '', files('tiny-f32-1shard')] as const);
    expect(check, JSON.stringify(check)).toMatchObject({ ok: true });
    await close();
  });

  it('streams a ≥ 256 MB checkpoint from Blob parts through IndexedDB to the GPU with a bounded JS heap', async () => {
    const { context, page, close } = await openPage();
    const cdp = await context.newCDPSession(page);
    const CHUNK = 16 * MiB; // the default chunk size (CHUNK_SIZE)
    const MARGIN = 32 * MiB; // V8 collects array buffers lazily: garbage chunks linger a little
    const bound = 4 * CHUNK + MARGIN;
    // A Gemma-2 shape whose bf16 tensors total 291 MB: a 128 MiB embedding (65536 × 1024) + 5 layers.
    const big = {
      config: { vocab_size: 65536, hidden_size: 1024, intermediate_size: 4096, num_hidden_layers: 5, num_attention_heads: 8, num_key_value_heads: 4, head_dim: 128, query_pre_attn_scalar: 128 },
      dtype: 'BF16',
      chunkSize: CHUNK,
      name: 'synthetic-291mb',
    } as const;
    const prep = await page.evaluate((o) => window.__store.prepareSynthetic(o), big);
    expect(prep.modelBytes).toBeGreaterThanOrEqual(256e6);

    // JS memory of the page as CDP reports it: the V8 heap plus ArrayBuffer backing stores.
    const heap = async (): Promise<number> => {
      const u = (await cdp.send('Runtime.getHeapUsage')) as { usedSize: number; backingStorageSize?: number };
      return u.usedSize + (u.backingStorageSize ?? 0);
    };
    /** Runs `fn` while sampling heap() every 10 ms; returns its result and the peak over a GC'd baseline. */
    const watch = async <T>(fn: () => Promise<T>): Promise<{ result: T; base: number; peak: number }> => {
      await cdp.send('HeapProfiler.collectGarbage');
      const base = await heap();
      let peak = base;
      let done = false;
      const run = fn().finally(() => (done = true));
      while (!done) {
        peak = Math.max(peak, await heap());
        await new Promise((r) => setTimeout(r, 10));
      }
      return { result: await run, base, peak };
    };

    // The sampler sees array buffers: a 64 MiB Uint8Array held for 100 ms shows up.
    const control = await watch(() => page.evaluate(async () => {
      const b = new Uint8Array(64 * 1024 * 1024).fill(1);
      await new Promise((r) => setTimeout(r, 100));
      return b[b.length - 1];
    }));
    expect(control.peak - control.base, 'the heap sampler misses array buffers').toBeGreaterThan(64 * MiB);

    const imp = await watch(() => page.evaluate(() => window.__store.importSynthetic()));
    expect(imp.result, JSON.stringify(imp.result)).toMatchObject({ ok: true });
    // 100 MiB per buffer: the 256 MiB f32 embedding is split into row parts (SwiftShader in Chromium
    // allows 1 GiB bindings; real gemma-2-2b needs the split on most devices)
    const SPLIT = 100 * MiB;
    const up = imp.result.ok ? await watch(() => page.evaluate(([id, max]) => window.__store.uploadSynthetic(id, max), [imp.result.ok ? imp.result.id : '', SPLIT] as const)) : null;
    expect(up?.result, JSON.stringify(up?.result)).toMatchObject({ ok: true });
    if (!imp.result.ok || !up?.result.ok) return;

    const i = imp.result;
    const u = up.result;
    const report = [
      `model ${mb(prep.modelBytes)} (bf16, incompressible values) in ${prep.files.length} files, chunk ${CHUNK / MiB} MiB, bound = 4 chunks + ${MARGIN / MiB} MiB = ${mb(bound)}; control: a 64 MiB array shows as ${mb(control.peak - control.base)}`,
      `import: ${i.seconds.toFixed(1)} s (${(i.storedBytes / 1e6 / i.seconds).toFixed(0)} MB/s), heap growth (CDP usedSize + backingStorageSize) ${mb(imp.peak - imp.base)} [base ${mb(imp.base)}, peak ${mb(imp.peak)}]; performance.memory ${mb(i.heap.peak - i.heap.start)} over ${i.heap.samples} samples`,
      `upload: ${u.seconds.toFixed(1)} s (${u.mbPerSec.toFixed(0)} MB/s), heap growth (CDP) ${mb(up.peak - up.base)} [base ${mb(up.base)}, peak ${mb(up.peak)}]; performance.memory ${mb(u.heap.peak - u.heap.start)} over ${u.heap.samples} samples`,
      `GPU: ${u.tensors} tensors, embedding in ${u.embeddingParts.length} row parts ${JSON.stringify(u.embeddingParts)} (maxStorageBufferBindingSize ${u.limits.maxStorageBufferBindingSize}, maxBufferSize ${u.limits.maxBufferSize}), pool peak ${mb(u.gpuPeakBytes)}`,
    ];
    for (const line of report) console.log(`[store chromium 256MB] ${line}`);

    expect(imp.peak - imp.base, 'import: JS heap growth').toBeLessThan(bound);
    expect(up.peak - up.base, 'upload: JS heap growth').toBeLessThan(bound);
    expect(i.heap.peak - i.heap.start, 'import: performance.memory growth').toBeLessThan(bound);
    expect(u.heap.peak - u.heap.start, 'upload: performance.memory growth').toBeLessThan(bound);
    expect(u.embeddingParts).toEqual([[0, 25600], [25600, 51200], [51200, 65536]]); // floor(100 MiB / 4 KiB per f32 row) = 25600 rows
    await page.evaluate((id) => window.__store.remove(id), i.id);
    expect(await page.evaluate(() => window.__store.keys(''))).toEqual([]);
    await close();
  });
});
