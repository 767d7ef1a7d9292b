// The studio page in headless Chromium: the engine worker starts, probes WebGPU and the page shows
// the adapter (SwiftShader here), its raised limits and features. Also checks that the page and
// its worker log no errors. No adapter is a failure, never a skip.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import type { ViteDevServer } from 'vite';
import { forwardConsole, launchChromium, startVite } from './gpu/browser/launch.ts';

let vite: { server: ViteDevServer; url: string } | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  vite = await startVite();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await vite?.server.close();
});

describe('studio (chromium)', () => {
  it('shows the WebGPU adapter the engine worker found', async () => {
    const page = await browser!.newPage();
    const errors: string[] = [];
    forwardConsole(page, 'studio');
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));

    await page.goto(`${vite!.url}/`);
    await expect.poll(() => page.title()).toBe('PrefStudio');

    // The device panel leaves idle/probing once the worker answers.
    const panel = page.getByTestId('device');
    await page.waitForFunction(() => !['idle', 'probing'].includes(document.querySelector('[data-testid=device]')?.getAttribute('data-status') ?? 'idle'), null, { timeout: 60_000 });
    const status = await panel.getAttribute('data-status');
    expect(status, `the studio found no adapter:\n${await panel.innerText()}`).toBe('ready');

    const adapter = await page.getByTestId('adapter').innerText();
    console.log(`[studio] adapter panel:\n${adapter}`);
    expect(adapter.toLowerCase()).toContain('swiftshader');
    expect(adapter).toMatch(/software adapter\s+yes/);

    const limits = await page.getByTestId('limits').innerText();
    expect(limits).toContain('maxStorageBufferBindingSize');
    expect(limits).toContain('maxComputeInvocationsPerWorkgroup');
    expect(await page.getByTestId('features').innerText()).toContain('subgroups');

    expect(errors, `console errors on the studio page:\n${errors.join('\n')}`).toEqual([]);
  });
});
