// `prefstudio recipe`: the files it writes (the recipe's content is checked key by key against
// TRL's field list in src/engine/train/recipe.test.ts), its warnings, and its errors.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = join(import.meta.dirname, '..', '..');
const demo = join(root, 'public', 'demo', 'preferences', 'train.jsonl');

function cli(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'prefstudio.mjs'), 'recipe', ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('prefstudio recipe', () => {
  it('writes recipe.yaml, README.md and data.jsonl for a WPO run, and says what differs', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'recipe-')), 'wpo');
    const r = cli('--preset', 'wpo-hb', '--data', demo, '--out', out, '--num_processes', '4', '--learning_rate', '3e-6');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`cd ${out} && trl dpo --config recipe.yaml --num_processes 4\n`);
    expect(r.stderr).toMatch(/warning: use_weighting: PrefStudio clamps the WPO pair weight at 1/);
    const y = parse(readFileSync(join(out, 'recipe.yaml'), 'utf8'), { version: '1.1' }) as Record<string, unknown>;
    expect([y.learning_rate, y.beta, y.use_weighting, y.per_device_train_batch_size, y.gradient_accumulation_steps, y.model_name_or_path])
      .toEqual([3e-6, 0.01, true, 1, 32, 'google/gemma-2-2b-it']); // the published wpo-hb: 128 pairs per step = 1 × 32 × 4
    expect(readFileSync(join(out, 'README.md'), 'utf8')).toContain('trl dpo --config recipe.yaml --num_processes 4');
    // data.jsonl: every demo row, prompt/chosen/rejected only (the demo rows are conversational already)
    const given = readFileSync(demo, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
    const written = readFileSync(join(out, 'data.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(written.length).toBe(given.length);
    written.forEach((w, i) => expect(w).toEqual({ prompt: given[i].prompt, chosen: given[i].chosen, rejected: given[i].rejected }));
  });

  it('SimPO with LoRA: train_cpo.py and ModelConfig\'s LoRA fields', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'recipe-')), 'simpo');
    const r = cli('--preset', 'simpo', '--data', demo, '--out', out, '--use_peft', '--lora_r', '8', '--lora_target_modules', 'q_proj,v_proj');
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(out, 'train_cpo.py'))).toBe(true);
    const y = parse(readFileSync(join(out, 'recipe.yaml'), 'utf8'), { version: '1.1' }) as Record<string, unknown>;
    expect([y.loss_type, y.simpo_gamma, y.cpo_alpha, y.use_peft, y.lora_r, y.lora_alpha, y.lora_target_modules]).toEqual(['simpo', 5, 0, true, 8, 32, ['q_proj', 'v_proj']]);
  });

  it('a malformed data file names the row; token ids are refused; a bad flag is a usage error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'recipe-'));
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"prompt": "a", "chosen": "b", "rejected": "c"}\n{"prompt": "a", "rejected": "c"}\n');
    const r = cli('--data', bad, '--out', join(dir, 'out'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/line 2: chosen is missing/);
    expect(existsSync(join(dir, 'out'))).toBe(false);
    const ids = join(dir, 'ids.jsonl');
    writeFileSync(ids, '{"prompt": [1, 2], "chosen": [3], "rejected": [4]}\n');
    expect(cli('--data', ids, '--out', join(dir, 'out')).stderr).toMatch(/token-id rows/);
    const u = cli('--data', demo, '--out', join(dir, 'out'), '--learnig_rate', '1e-6');
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/learning_rate/);
  });
});
