// The studio page in headless Chromium: the engine worker starts, probes WebGPU and the page shows
// the adapter (SwiftShader here), its raised limits and features. Also checks that the page and
// its worker log no errors. No adapter is a failure, never a skip. (The Models screen has its own
// test on an on-disk profile: e2e/models.chromium.test.ts.)

import { describe, expect, it } from 'vitest';
import { forwardConsole } from './gpu/browser/launch.ts';
import { useViteAndChromium } from './gpu/browser/lifecycle.ts';

const env = useViteAndChromium();

describe('studio (chromium)', () => {
  it('shows the WebGPU adapter the engine worker found', async () => {
    const page = await env.browser.newPage();
    const errors: string[] = [];
    forwardConsole(page, 'studio');
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));

    await page.goto(`${env.url}/`);
    await expect.poll(() => page.title()).toBe('PrefStudio');

    // The device panel leaves idle/probing once the worker answers.
    const panel = page.getByTestId('device');
    await page.waitForFunction(() => !['idle', 'probing'].includes(document.querySelector('[data-testid=device]')?.getAttribute('data-status') ?? 'idle'), null, { timeout: 60_000 });
    const status = await panel.getAttribute('data-status');
    expect(status, `the studio found no adapter:\n${await panel.innerText()}`).toBe('ready');

    // The adapter's details are folded under the one-line summary.
    expect((await page.getByTestId('device-summary').innerText()).toLowerCase()).toContain('swiftshader');
    await page.getByTestId('device-details').locator('summary').click();
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

  it('says what to do when the built-in demo is missing from the server', async () => {
    // A fresh in-memory profile (no stored demo), and the demo's config.json answered with a 404.
    const context = await env.browser.newContext();
    await context.route('**/demo/model/config.json', (route) => route.fulfill({ status: 404, body: 'not found' }));
    const page = await context.newPage();
    await page.goto(`${env.url}/`);
    const box = page.getByTestId('models-error');
    await box.waitFor({ timeout: 60_000 });
    expect(await box.getAttribute('data-during')).toBe('demo');
    expect(await page.getByTestId('models-error-where').innerText()).toMatch(/\/demo\/model\/config\.json$/);
    expect(await page.getByTestId('models-error-message').innerText()).toContain('HTTP 404');
    expect(await page.getByTestId('models-error-hint').innerText()).toContain('scripts/demo/train_demo.py');
    // the screen still works: the import area is there and the list says it has no models
    await page.waitForSelector('[data-testid=model-list][data-listed=true]');
    expect(await page.getByTestId('model-row').count()).toBe(0);
    await context.close();
  });
});
