// Starting a training run on the studio's Train screen as a user does, for the Chromium tests that
// need one (e2e/adapters.chromium.test.ts, e2e/check_generate_export.chromium.test.ts): the Data
// screen's picker takes a preference file, then the Train screen gets the loss, LoRA on or off and
// the settings by their TRL names (the "more settings" section opened), and "Start training" is
// clicked once it is enabled. The run's progress is the caller's to watch.

import type { Page } from 'playwright-core';
import { expect } from 'vitest';

export interface TrainScreenRun {
  /** The preference file as picked (JSONL text). */
  file: { name: string; text: string };
  /** The "Loss" select's option value, e.g. 'loss:sigmoid'. */
  loss: string;
  /** Tick use_peft (LoRA). */
  usePeft: boolean;
  /** Settings by TRL name, as typed (lora_r, learning_rate, max_steps …). */
  settings: Record<string, string>;
}

/** Picks the file, fills the Train screen and clicks "Start training"; the page is left on the Train screen. */
export async function startRunOnTrainScreen(page: Page, run: TrainScreenRun): Promise<void> {
  await page.getByRole('link', { name: 'Data', exact: true }).click();
  await page.getByLabel('Choose a preference file…').setInputFiles({ name: run.file.name, mimeType: 'application/jsonl', buffer: Buffer.from(run.file.text) });
  await page.getByRole('link', { name: 'Train', exact: true }).click();
  const rows = run.file.text.split('\n').filter((l) => l.trim() !== '').length;
  await expect.poll(() => page.getByTestId('train-data').innerText(), { timeout: 60_000 }).toMatch(new RegExp(`^${run.file.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} · .* · ${rows} pairs`));
  await page.getByLabel('Loss', { exact: true }).selectOption(run.loss);
  if (run.usePeft) await page.getByLabel(/^use_peft/).check();
  await page.locator('details.settings-more > summary').click();
  for (const [name, value] of Object.entries(run.settings)) await page.getByLabel(new RegExp(`^${name}`)).fill(value);
  await expect.poll(() => page.getByRole('button', { name: 'Start training', exact: true }).isEnabled(), { timeout: 120_000 }).toBe(true);
  await page.getByRole('button', { name: 'Start training', exact: true }).click();
}
