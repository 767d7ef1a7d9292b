// `prefstudio train --save_steps / --save_total_limit / --resume` as a user runs it (issue 9
// "Checkpoints and resume"): a run killed (SIGKILL) right after its checkpoint-2 is written and
// resumed with bare --resume ends with a metrics.jsonl equal, byte for byte, to that of the same run
// never interrupted (and the same final weights); so does a LoRA run resumed from its checkpoint-2
// (and the same adapter); save_total_limit keeps the newest checkpoints;
// a resume with other settings, or with no checkpoint to resume, fails before any weights load.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const bin = join(root, 'bin', 'prefstudio.mjs');
const demoModel = join(root, 'public', 'demo', 'model');
let dir: string;
let data: string;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefstudio-resume-'));
  env = { ...process.env, XDG_CACHE_HOME: join(dir, 'cache') };
  // 8 demo pairs keep the reference pass and each step short
  data = join(dir, 'train.jsonl');
  const lines = readFileSync(join(root, 'public', 'demo', 'preferences', 'train.jsonl'), 'utf8').split('\n').filter(Boolean).slice(0, 8);
  writeFileSync(data, `${lines.join('\n')}\n`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const trainArgs = (out: string, ...extra: string[]): string[] => ['train', '--model', demoModel, '--data', data, '--loss_type', 'sigmoid', ...(extra.includes('--learning_rate') ? [] : ['--learning_rate', '1e-3']), '--lr_scheduler_type', 'cosine', '--warmup_steps', '1', '--weight_decay', '0.1', '--per_device_train_batch_size', '2', '--max_steps', '4', '--logging_steps', '1', '--seed', '5', '--out', out, ...extra];

function cli(args: string[]): { code: number; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', timeout: 600_000, env });
  return { code: r.status ?? -1, stderr: r.stderr };
}

const steps = (out: string): number[] => readdirSync(out).filter((f) => /^checkpoint-\d+$/.test(f)).map((f) => Number(f.slice(11))).sort((a, b) => a - b);

describe('prefstudio train: checkpoints and resume on the demo', () => {
  it('killed after checkpoint-2, resumed with --resume: metrics.jsonl and final/ equal the uninterrupted run bit for bit', async () => {
    const whole = join(dir, 'whole');
    const a = cli(trainArgs(whole, '--save_steps', '1', '--save_total_limit', '2'));
    expect(a.code, a.stderr).toBe(0);
    expect(a.stderr).toMatch(/checkpoint: wrote \S+checkpoint-1 \([\d.]+ [kM]B\)\n/);
    expect(a.stderr).toMatch(/checkpoint: wrote \S+checkpoint-3 \(.*\), removed checkpoint-1 \(--save_total_limit 2\)/);
    expect(steps(whole), 'save_total_limit 2 keeps the newest two').toEqual([3, 4]);
    const expected = readFileSync(join(whole, 'metrics.jsonl'), 'utf8');
    expect(expected.trim().split('\n').map((l) => (JSON.parse(l) as { step: number }).step)).toEqual([1, 2, 3, 4]);

    // the same run, killed as soon as checkpoint-2 is complete
    const cut = join(dir, 'cut');
    const child = spawn(process.execPath, [bin, ...trainArgs(cut, '--save_steps', '2')], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    const exit = new Promise<NodeJS.Signals | number | null>((res) => child.on('exit', (code, sig) => res(sig ?? code)));
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (/checkpoint: wrote \S+checkpoint-2 /.test(err)) child.kill('SIGKILL');
    });
    expect(await exit, `the run should have been killed after checkpoint-2:\n${err}`).toBe('SIGKILL');
    expect(steps(cut), 'killed before checkpoint-4').toEqual([2]);
    expect(existsSync(join(cut, 'final')), 'killed before the end').toBe(false);

    const resumed = cli([...trainArgs(cut, '--save_steps', '2'), '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resume: from \S+checkpoint-2 \(step 2 of 4\)/);
    expect(resumed.stderr, 'no reference pass: the checkpoint holds it').not.toMatch(/reference log-probs/);
    expect(resumed.stderr.split('\n').filter((l) => l.startsWith("{'loss'")).length, 'log lines continue at step 3').toBe(2);
    expect(readFileSync(join(cut, 'metrics.jsonl'), 'utf8'), 'resumed metrics.jsonl = uninterrupted, byte for byte').toBe(expected);
    expect(steps(cut)).toEqual([2, 4]);
    expect(readFileSync(join(cut, 'final', 'model.safetensors')).equals(readFileSync(join(whole, 'final', 'model.safetensors'))), 'final weights bit for bit').toBe(true);
  }, 1_200_000);

  it('LoRA (--use_peft, dropout): --resume DIR/checkpoint-2 into another folder gives the same metrics.jsonl and adapter', () => {
    const lora = ['--use_peft', '--lora_r', '4', '--lora_dropout', '0.1', '--lora_target_modules', 'q_proj,v_proj,down_proj', '--save_steps', '2'];
    const whole = join(dir, 'lora-whole');
    const a = cli(trainArgs(whole, ...lora));
    expect(a.code, a.stderr).toBe(0);
    const other = join(dir, 'lora-resumed');
    const b = cli(trainArgs(other, ...lora, '--resume', join(whole, 'checkpoint-2')));
    expect(b.code, b.stderr).toBe(0);
    expect(readFileSync(join(other, 'metrics.jsonl'), 'utf8')).toBe(readFileSync(join(whole, 'metrics.jsonl'), 'utf8'));
    expect(readFileSync(join(other, 'adapter', 'adapter_model.safetensors')).equals(readFileSync(join(whole, 'adapter', 'adapter_model.safetensors'))), 'the adapter bit for bit').toBe(true);
    expect(steps(other)).toEqual([4]);
  }, 1_200_000);

  it('a resume with other settings, or without a checkpoint, fails before any weights load', () => {
    const other = cli(trainArgs(join(dir, 'x'), '--learning_rate', '2e-3', '--resume', join(dir, 'cut', 'checkpoint-2')));
    expect(other.code).not.toBe(0);
    expect(other.stderr).toMatch(/--learning_rate is 0\.001 in the checkpoint, 0\.002 now/);
    expect(other.stderr).not.toMatch(/weights|reference log-probs/);
    const none = cli([...trainArgs(join(dir, 'empty')), '--resume']);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(/--resume: there is no complete checkpoint in \S+empty\n---> HINT: start the run without --resume/);
    const missing = cli([...trainArgs(join(dir, 'y')), '--resume', join(dir, 'nowhere')]);
    expect(missing.stderr).toMatch(/nowhere is not a folder/);
  }, 300_000);
});
