// `prefstudio` CLI: the output contract of `logps` against PyTorch reference values
// (scripts/goldens/logps_reference.py), and its error messages and exit codes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectClose } from './gpu/harness.ts';

const root = join(import.meta.dirname, '..');
const fixtures = join(root, 'e2e', 'fixtures');

function cli(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'prefstudio.mjs'), ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

interface Side {
  logp: number;
  tokens: number;
  token_logps: number[];
  token_log_sum_p2: number[];
}

describe('prefstudio logps', () => {
  for (const ckpt of ['tiny-bf16-3shard', 'tiny-l3-f32-2shard']) {
    it(`matches PyTorch on ${ckpt} (token ids as given)`, () => {
      const r = cli('logps', '--model', join(fixtures, 'checkpoints', ckpt), '--pairs', join(fixtures, 'cli', 'pairs.ids.json'));
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/reference log-probs: \d+\/\d+ sequences \(100%/);
      const got = JSON.parse(r.stdout) as { pairs: { chosen: Side; rejected: Side }[] };
      const want = JSON.parse(readFileSync(join(fixtures, 'cli', `${ckpt}.logps.json`), 'utf8')) as typeof got;
      expect(got.pairs.length).toBe(want.pairs.length);
      got.pairs.forEach((p, i) => {
        for (const k of ['chosen', 'rejected'] as const) {
          expect(Object.keys(p[k]).sort()).toEqual(['logp', 'token_log_sum_p2', 'token_logps', 'tokens']);
          expect(p[k].tokens).toBe(want.pairs[i][k].tokens);
          expectClose([p[k].logp], [want.pairs[i][k].logp], { atol: 4e-5, rtol: 4e-5 }, `pairs[${i}].${k}.logp`);
          expectClose(p[k].token_logps, want.pairs[i][k].token_logps, { atol: 2e-5, rtol: 2e-5 }, `pairs[${i}].${k}.token_logps`);
          expectClose(p[k].token_log_sum_p2, want.pairs[i][k].token_log_sum_p2, { atol: 1e-5, rtol: 1e-3 }, `pairs[${i}].${k}.token_log_sum_p2`);
        }
      });
    });
  }

  it('the built-in demo (bf16, 2 shards): text rows through the chat template match PyTorch and the id rows', () => {
    // public/demo/samples.json holds, per sample, the TRL token ids and float64 PyTorch log-probs of
    // the chosen and rejected answers (scripts/demo/train_demo.py, independent of the engine).
    interface Sample { prompt: string; chosen: string; rejected: string; prompt_ids: number[]; chosen_ids: number[]; rejected_ids: number[]; chosen_logp: number; rejected_logp: number }
    const samples = (JSON.parse(readFileSync(join(root, 'public', 'demo', 'samples.json'), 'utf8')) as { samples: Sample[] }).samples;
    const dir = mkdtempSync(join(tmpdir(), 'prefstudio-cli-'));
    const text = join(dir, 'text.json');
    writeFileSync(text, JSON.stringify({ pairs: samples.map((s) => ({ prompt: [{ role: 'user', content: s.prompt }], chosen: [{ role: 'assistant', content: s.chosen }], rejected: [{ role: 'assistant', content: s.rejected }] })) }));
    const ids = join(dir, 'ids.json');
    writeFileSync(ids, JSON.stringify({ pairs: samples.map((s) => ({ prompt: s.prompt_ids, chosen: s.chosen_ids, rejected: s.rejected_ids })) }));
    const model = join(root, 'public', 'demo', 'model');
    const fromText = cli('logps', '--model', model, '--pairs', text);
    const fromIds = cli('logps', '--model', model, '--pairs', ids);
    expect(fromText.code, fromText.stderr).toBe(0);
    expect(fromIds.code, fromIds.stderr).toBe(0);
    const a = (JSON.parse(fromText.stdout) as { pairs: { chosen: Side; rejected: Side }[] }).pairs;
    const b = (JSON.parse(fromIds.stdout) as { pairs: { chosen: Side; rejected: Side }[] }).pairs;
    samples.forEach((s, i) => {
      expect(a[i].chosen.tokens, `sample ${i} chosen token count`).toBe(s.chosen_ids.length);
      expect(a[i].rejected.tokens).toBe(s.rejected_ids.length);
      expect(a[i].chosen.token_logps).toEqual(b[i].chosen.token_logps); // same tokens → same numbers
      expectClose([a[i].chosen.logp, a[i].rejected.logp], [s.chosen_logp, s.rejected_logp], { atol: 4e-5, rtol: 4e-5 }, `demo sample ${i} (${s.prompt})`);
    });
  });

  it('names the file, pair and id for bad input; exit 1; usage errors exit 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'prefstudio-cli-'));
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ pairs: [{ prompt: [2], chosen: [5], rejected: [9999] }] }));
    const model = join(fixtures, 'checkpoints', 'tiny-f32-1shard');
    let r = cli('logps', '--model', model, '--pairs', bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('pairs[0].rejected[0]');
    expect(r.stderr).toContain('9999');
    writeFileSync(bad, JSON.stringify({ pairs: [{ prompt: 'Hi', chosen: 'a', rejected: 'b' }] }));
    r = cli('logps', '--model', model, '--pairs', bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no tokenizer\.json/);
    r = cli('logps', '--model', join(dir, 'nowhere'), '--pairs', bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('nowhere');
    r = cli('logps', '--model', model);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--pairs is required');
    r = cli('frobnicate');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'frobnicate'");
  });
});

describe('prefstudio generate', () => {
  it('greedy generations of the demo model equal PyTorch greedy decoding (KV cache, chat template, stop at <end_of_turn>)', () => {
    interface Sample { prompt: string; completion: string; min_top2_logit_gap: number }
    const samples = (JSON.parse(readFileSync(join(root, 'public', 'demo', 'samples.json'), 'utf8')) as { samples: Sample[] }).samples;
    // Samples whose greedy path is robust to f32-vs-f64 rounding (top-1 beats top-2 by > 0.05 logits).
    const robust = samples.filter((x) => x.min_top2_logit_gap > 0.05).slice(0, 3);
    expect(robust.length).toBeGreaterThan(0);
    for (const x of robust) {
      const r = cli('generate', '--model', join(root, 'public', 'demo', 'model'), '--prompt', x.prompt, '--max-new-tokens', '24');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim(), x.prompt).toBe(x.completion);
      expect(r.stderr).toMatch(/generated \d+ tokens \(stop\)/);
    }
  });
});

describe('prefstudio usage (from the command table, src/cli/commands.ts)', () => {
  it('--help prints the commands, `<command> --help` its flags; both exit 0 on stdout', () => {
    let r = cli('--help');
    expect(r.code, r.stderr).toBe(0);
    for (const c of ['logps', 'generate', 'tokenize', 'train', 'step']) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    r = cli('train', '--help');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('usage: prefstudio train --model DIR --data FILE --out DIR [flags]');
    expect(r.stdout).toContain('--learning_rate LR');
    r = cli('help', 'tokenize');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--add_special_tokens');
  });

  it('usage errors exit 2 and name the flag (and the closest valid one) before anything loads', () => {
    const model = join(fixtures, 'checkpoints', 'tiny-f32-1shard');
    let r = cli('train', '--model', model, '--data', 'x.jsonl', '--out', 'o', '--lerning-rate', '1e-3');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown flag --lerning-rate for train (did you mean --learning_rate?)');
    r = cli('generate', '--model', model, '--prompt', 'Hi', '--max-new-tokens', 'ten');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--max_new_tokens must be an integer, got 'ten'");
    r = cli('step', '--model', model, '--pairs', 'p.json');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--report is required');
  });
});
