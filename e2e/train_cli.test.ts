// `prefstudio train` end to end, as a user runs it (issue 8 "Done when"): the demo with a preset
// prints progress and a learning curve, writes metrics.jsonl (one line per optimizer step, TRL's
// keys, per-pair values with their rows) and final/, which `logps` loads back and which holds what
// the run trained. Bad input fails before any weights load, naming the row and field, the flag and
// its closest valid spelling, or the loss type.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const demoModel = join(root, 'public', 'demo', 'model');
const demoTrain = join(root, 'public', 'demo', 'preferences', 'train.jsonl');
let dir: string;
let cache: string;

function cli(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'prefstudio.mjs'), ...args], { cwd: root, encoding: 'utf8', timeout: 600_000, env: { ...process.env, XDG_CACHE_HOME: cache } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefstudio-train-'));
  cache = join(dir, 'cache');
});

const TRL_KEYS = ['loss', 'rewards/chosen', 'rewards/rejected', 'rewards/margins', 'rewards/accuracies', 'logps/chosen', 'logps/rejected', 'logits/chosen', 'logits/rejected', 'grad_norm', 'learning_rate', 'num_tokens', 'mean_token_accuracy', 'epoch'];
const PAIR_KEYS = ['row', 'chosen_logp', 'rejected_logp', 'ref_chosen_logp', 'ref_rejected_logp', 'chosen_tokens', 'rejected_tokens', 'reward_chosen', 'reward_rejected', 'margin', 'accuracy', 'weight_chosen', 'weight_rejected', 'weight_raw', 'weight', 'logit', 'loss'];

describe('prefstudio train on the demo', () => {
  it('--preset wpo-hb: progress, TRL log lines, metrics.jsonl, final/ that logps loads; the reference cache is reused', () => {
    const out = join(dir, 'wpo');
    const args = ['train', '--model', demoModel, '--data', demoTrain, '--preset', 'wpo-hb', '--max_steps', '6', '--per_device_train_batch_size', '4', '--logging_steps', '3', '--out', out];
    const r = cli(...args);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/preset wpo-hb .* scaled for a small model/);
    expect(r.stderr).toMatch(/reference log-probs 100% .*331\/331 pairs · [\d.]+ pairs\/s/);
    expect(r.stderr).toMatch(/train 100% .*6\/6 steps · [\d.]+ steps\/s · \d+ tok\/s · ETA/);
    const logLines = r.stderr.split('\n').filter((l) => l.startsWith("{'loss': "));
    expect(logLines.length, 'a TRL-style line every 3 steps').toBe(2);
    expect(logLines[0]).toMatch(/'rewards\/accuracies': [\d.]+, 'rewards\/margins'.*'epoch': /);

    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown> & { pairs: Record<string, unknown>[] });
    expect(lines.map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const l of lines) {
      for (const k of TRL_KEYS) expect(Number.isFinite(l[k]), `metrics.jsonl step ${String(l.step)}: ${k}`).toBe(true);
      expect(l.pairs.length).toBe(4);
      for (const p of l.pairs) {
        for (const k of PAIR_KEYS) expect(typeof p[k], `pair key ${k}`).toBe('number');
        expect(p.row as number).toBeGreaterThanOrEqual(0);
        expect(p.row as number).toBeLessThan(331);
        expect(p.weight as number, 'WPO weight clamped at 1').toBeLessThanOrEqual(1);
        expect(p.weight).toBeCloseTo(Math.min(1, p.weight_raw as number), 6);
      }
    }
    // the rows of an epoch are a permutation: no row twice within the first 6·4 = 24 pairs
    const rows = lines.flatMap((l) => l.pairs.map((p) => p.row));
    expect(new Set(rows).size).toBe(rows.length);
    expect(lines[5].loss as number).toBeLessThan(lines[0].loss as number);

    // final/ is a Hugging Face folder with the input's names and dtypes
    const files = readdirSync(join(out, 'final')).sort();
    expect(files).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    const pairs = join(dir, 'one.json');
    writeFileSync(pairs, JSON.stringify({ pairs: [{ prompt: [{ role: 'user', content: 'What is 3 times 7?' }], chosen: [{ role: 'assistant', content: '3 times 7 is 21.' }], rejected: [{ role: 'assistant', content: 'I think it is 22.' }] }] }));
    const before = cli('logps', '--model', demoModel, '--pairs', pairs);
    const after = cli('logps', '--model', join(out, 'final'), '--pairs', pairs);
    expect(after.code, after.stderr).toBe(0);
    const margin = (s: string): number => {
      const p = (JSON.parse(s) as { pairs: { chosen: { logp: number }; rejected: { logp: number } }[] }).pairs[0];
      return p.chosen.logp - p.rejected.logp;
    };
    expect(margin(after.stdout), 'the trained model prefers the chosen answer more than the demo does').toBeGreaterThan(margin(before.stdout));

    // a second run finds the reference log-probs in the cache
    const again = cli(...args.slice(0, -1), join(dir, 'wpo2'));
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/reference log-probs: 331 pairs from the cache/);
    expect(readFileSync(join(dir, 'wpo2', 'metrics.jsonl'), 'utf8'), 'same seed, same run, bit for bit').toBe(readFileSync(join(out, 'metrics.jsonl'), 'utf8'));
  }, 900_000);

  it('simpo needs no reference: none is computed', () => {
    const r = cli('train', '--model', demoModel, '--data', demoTrain, '--preset', 'simpo', '--max_steps', '2', '--per_device_train_batch_size', '2', '--save_final', 'false', '--out', join(dir, 'simpo'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/reference log-probs/);
    const l = JSON.parse(readFileSync(join(dir, 'simpo', 'metrics.jsonl'), 'utf8').split('\n')[0]) as { pairs: { ref_chosen_logp: number }[] };
    expect(l.pairs[0].ref_chosen_logp).toBe(0);
  }, 600_000);
});

describe('prefstudio train --use_peft (LoRA) on the demo', () => {
  it('trains an adapter on the frozen base; step 1 is the base (policy = reference, loss ln 2); the reference cache key is the base\'s', () => {
    const small = join(dir, 'small.jsonl');
    writeFileSync(small, `${readFileSync(demoTrain, 'utf8').split('\n').slice(0, 16).join('\n')}\n`);
    const cacheDir = join(dir, 'lora-cache');
    const base = ['train', '--model', demoModel, '--data', small, '--per_device_train_batch_size', '2', '--learning_rate', '1e-3', '--save_final', 'false', '--cache_dir', cacheDir];
    const r = cli(...base, '--max_steps', '2', '--use_peft', '--lora_r', '4', '--lora_alpha', '8', '--out', join(dir, 'lora'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/lora: r 4, alpha 8 \(scale 2\.000\), dropout 0\.05 on q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj: 45056 trainable parameters/);
    expect(r.stderr).toMatch(/reference log-probs: 16 pairs computed/);
    const lines = readFileSync(join(dir, 'lora', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss: number; grad_norm: number; pairs: { chosen_logp: number; ref_chosen_logp: number }[] });
    expect(lines.map((l) => l.step)).toEqual([1, 2]);
    expect(lines[0].loss, 'B = 0: the adapted model is the base').toBeCloseTo(Math.log(2), 6);
    for (const p of lines[0].pairs) expect(p.chosen_logp).toBeCloseTo(p.ref_chosen_logp, 4);
    expect(lines[0].grad_norm, 'B gets a gradient').toBeGreaterThan(0);
    expect(lines[1].loss, 'the adapter moved').not.toBe(lines[0].loss);
    const args = JSON.parse(readFileSync(join(dir, 'lora', 'train_args.json'), 'utf8')) as { resolved: { lora: unknown } };
    expect(args.resolved.lora).toEqual({ r: 4, alpha: 8, dropout: 0.05, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], useRslora: false });
    const full = cli(...base, '--max_steps', '1', '--out', join(dir, 'full'));
    expect(full.code, full.stderr).toBe(0);
    expect(full.stderr, 'full fine-tuning finds the LoRA run\'s reference: the key is the base model\'s').toMatch(/reference log-probs: 16 pairs from the cache/);
  }, 600_000);
});

describe('prefstudio train: bad input fails before any weights load', () => {
  const expectEarly = (r: { code: number; stderr: string }, code: number, ...pats: RegExp[]): void => {
    expect(r.code, r.stderr).toBe(code);
    for (const p of pats) expect(r.stderr).toMatch(p);
    expect(r.stderr, 'no weights were loaded').not.toMatch(/loading weights/);
  };

  it('malformed rows are each named by line and field', () => {
    const f = join(dir, 'bad.jsonl');
    writeFileSync(f, [
      JSON.stringify({ prompt: 'Q?', chosen: 'A.' }),
      JSON.stringify({ prompt: [2, 5], chosen: [7, null], rejected: [8] }),
      JSON.stringify({ prompt: [2, 5], chosen: [], rejected: [8] }),
    ].join('\n'));
    expectEarly(cli('train', '--model', demoModel, '--data', f, '--out', join(dir, 'x')), 1, /line 1\b.*rejected/, /line 2\b.*chosen/, /line 3\b.*chosen/);
  });

  it('an empty dataset, and a dataset whose prompts all exceed max_length', () => {
    const empty = join(dir, 'empty.jsonl');
    writeFileSync(empty, '\n');
    expectEarly(cli('train', '--model', demoModel, '--data', empty, '--out', join(dir, 'x')), 1, /empty|no rows/i);
    expectEarly(cli('train', '--model', demoModel, '--data', demoTrain, '--max_length', '8', '--max_prompt_length', '8', '--out', join(dir, 'x')), 1, /max_length/);
  });

  it('an unknown loss type, and an unknown flag with the closest valid one', () => {
    expectEarly(cli('train', '--model', demoModel, '--data', demoTrain, '--loss_type', 'sigmoidd', '--out', join(dir, 'x')), 1, /sigmoidd/, /sigmoid\b/);
    expectEarly(cli('train', '--model', demoModel, '--data', demoTrain, '--learning_rat', '1e-3', '--out', join(dir, 'x')), 2, /--learning_rat/, /--learning_rate/);
    expectEarly(cli('train', '--model', demoModel, '--data', demoTrain, '--preset', 'wpo', '--out', join(dir, 'x')), 1, /unknown preset 'wpo'/, /wpo-hb/);
  });

  it('LoRA settings: a bad rank, a mistyped module (with the closest one), a LoRA flag without --use_peft', () => {
    expectEarly(cli('train', '--model', demoModel, '--data', demoTrain, '--use_peft', '--lora_r', '0', '--out', join(dir, 'x')), 1, /--lora_r: must be an integer >= 1/);
    expectEarly(cli('train', '--model', demoModel, '--data', demoTrain, '--use_peft', '--lora_target_modules', 'q_proj,v_prj', '--out', join(dir, 'x')), 1, /'v_prj' is not a linear layer of Gemma-2; did you mean v_proj\?/);
    expectEarly(cli('train', '--model', demoModel, '--data', demoTrain, '--lora_r', '8', '--out', join(dir, 'x')), 1, /--lora_r: has no effect without --use_peft/);
  });
});
