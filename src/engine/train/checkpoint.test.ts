// Checkpoint format and stores without a GPU (the trainer's own state round trip and bitwise resume
// are e2e/gpu/resume.test.ts): a saved checkpoint reads back bit for bit from every store (folders,
// the KV store over memory — the studio's IndexedDB store is the same code over another KVBackend —
// and over files); save_total_limit keeps the newest; a write killed halfway (a child process,
// SIGKILL) leaves the previous checkpoint loadable and the partial one ignored, then cleaned; a
// damaged checkpoint is refused naming the blob and what to do.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createMemoryBackend } from '../store/kv.ts';
import { createFileBackend } from '../store/kv_node.ts';
import { BLOB, kvCheckpointStore, latestCheckpoint, loadCheckpoint, saveCheckpoint, type CheckpointStore } from './checkpoint.ts';
import { syntheticState } from './checkpoint_crash_node.ts';
import { MANIFEST_FILE, nodeCheckpointStore } from './checkpoint_node.ts';
import type { TrainerState } from './checkpoint_state.ts';

const tmp = mkdtempSync(join(tmpdir(), 'prefstudio-ckpt-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => join(tmp, `d${n++}`);

const STORES: [string, () => Promise<CheckpointStore>][] = [
  ['folders', async () => nodeCheckpointStore(fresh())],
  ['KV in memory', async () => kvCheckpointStore(createMemoryBackend(), 'run-a/')],
  ['KV in files', async () => kvCheckpointStore(await createFileBackend(fresh()), 'run-a/')],
];

const trainerAt = (step: number): { exportState(): Promise<TrainerState> } => ({ exportState: async () => syntheticState(step) });
const bits = (a: Float32Array | null | undefined): string => (a ? Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex') : String(a));

function expectSameState(got: TrainerState, want: TrainerState): void {
  expect(got.meta).toEqual(want.meta);
  expect([...got.params.keys()]).toEqual([...want.params.keys()]);
  for (const [k, v] of want.params) expect(bits(got.params.get(k)), `trainable ${k}`).toBe(bits(v));
  expect([...got.optimizer.keys()].sort()).toEqual([...want.optimizer.keys()].sort());
  for (const [k, slots] of want.optimizer) for (const [s, v] of Object.entries(slots)) expect(bits(got.optimizer.get(k)?.[s]), `${s} of ${k}`).toBe(bits(v));
  expect(bits(got.reference)).toBe(bits(want.reference));
}

describe.each(STORES)('checkpoints in %s', (_, make) => {
  it('save → load gives the state and the metrics back bit for bit', async () => {
    const store = await make();
    expect(await latestCheckpoint(store)).toBeNull();
    const saved = await saveCheckpoint(store, trainerAt(3), { metrics: [{ step: 1, loss: 0.5 }, '{"step":2}', '{"step":3,"loss":0.1}'] });
    expect(saved.step).toBe(3);
    expect(await latestCheckpoint(store)).toBe(3);
    const ck = await loadCheckpoint(store.open(3));
    expectSameState(ck.state, syntheticState(3));
    expect(ck.metrics).toEqual(['{"step":1,"loss":0.5}', '{"step":2}', '{"step":3,"loss":0.1}']);
    // the same step again replaces it whole
    await saveCheckpoint(store, trainerAt(3), { metrics: ['{"step":3}'] });
    expect((await loadCheckpoint(store.open(3))).metrics).toEqual(['{"step":3}']);
    expect((await store.scan()).steps).toEqual([3]);
  });

  it('save_total_limit keeps the newest N; a failed write leaves the others and is cleaned', async () => {
    const store = await make();
    for (const s of [2, 4]) await saveCheckpoint(store, trainerAt(s), { metrics: [], saveTotalLimit: 2 });
    const third = await saveCheckpoint(store, trainerAt(6), { metrics: [], saveTotalLimit: 2 });
    expect(third.removed).toEqual([2]);
    expect((await store.scan()).steps).toEqual([4, 6]);
    await expect(saveCheckpoint(store, trainerAt(8), { metrics: [], saveTotalLimit: 2, hooks: { afterBlob: async (b) => { if (b === BLOB.optimizer) throw new Error('disk gone'); } } })).rejects.toThrow('disk gone');
    expect((await store.scan()).steps, 'nothing removed before the new one is complete').toEqual([4, 6]);
    await store.clean();
    expect(await store.scan()).toEqual({ steps: [4, 6], partial: [], ignored: [] });
    expectSameState((await loadCheckpoint(store.open(6))).state, syntheticState(6));
    await expect(saveCheckpoint(store, trainerAt(8), { metrics: [], saveTotalLimit: 0 })).rejects.toThrow(/--save_total_limit: must be an integer >= 1, got 0/);
  });
});

describe('a checkpoint write killed halfway (SIGKILL of a child process)', () => {
  it('leaves the previous checkpoint loadable; the partial one is ignored, then removed', async () => {
    const [dirRoot, kvRoot] = [fresh(), fresh()];
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', join(import.meta.dirname, '..', '..', '..', 'scripts', 'wgsl-register.mjs'), join(import.meta.dirname, 'checkpoint_crash_node.ts'), dirRoot, kvRoot], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exit = new Promise<NodeJS.Signals | number | null>((res) => child.on('exit', (code, sig) => res(sig ?? code)));
    await new Promise<void>((res, rej) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('halfway') && res());
      child.on('exit', () => rej(new Error(`the writer exited before reaching the middle of its write: ${err}`)));
    });
    child.kill('SIGKILL');
    expect(await exit).toBe('SIGKILL');

    // folders: checkpoint-2 complete, checkpoint-4.tmp-… holds the first blob only
    const left = readdirSync(dirRoot).sort();
    expect(left[0]).toBe('checkpoint-2');
    expect(left[1]).toMatch(/^checkpoint-4\.tmp-/);
    expect(readdirSync(join(dirRoot, left[1]))).toEqual([BLOB.trainable]);
    const kv = await createFileBackend(kvRoot);
    expect((await kv.keys('run/checkpoint-4/')).length, 'the KV write stopped after storing a blob').toBeGreaterThan(0);
    for (const store of [nodeCheckpointStore(dirRoot), kvCheckpointStore(kv, 'run/')]) {
      const scan = await store.scan();
      expect(scan.steps).toEqual([2]);
      expect(scan.partial).toHaveLength(1);
      expect(await latestCheckpoint(store), 'resume picks the complete one').toBe(2);
      expect(await store.scan()).toEqual({ steps: [2], partial: [], ignored: [] });
      const ck = await loadCheckpoint(store.open(2));
      expectSameState(ck.state, syntheticState(2));
      expect(ck.metrics).toEqual(['{"step":1}', '{"step":2}']);
      await expect(loadCheckpoint(store.open(4))).rejects.toThrow(/has no manifest: it was never completed.*\n---> HINT: resume from an earlier checkpoint/);
    }
    expect(readdirSync(dirRoot)).toEqual(['checkpoint-2']);
  }, 60_000);
});

describe('a damaged checkpoint is refused, naming what is wrong', () => {
  async function saved(): Promise<string> {
    const root = fresh();
    await saveCheckpoint(nodeCheckpointStore(root), trainerAt(5), { metrics: ['{"step":5}'] });
    return join(root, 'checkpoint-5');
  }
  const load = (dir: string): Promise<unknown> => loadCheckpoint(nodeCheckpointStore(join(dir, '..')).open(5));

  it('a missing, truncated or changed blob', async () => {
    const dir = await saved();
    rmSync(join(dir, BLOB.optimizer));
    truncateSync(join(dir, BLOB.trainable), 100);
    const ref = readFileSync(join(dir, BLOB.reference));
    ref[ref.length - 1] ^= 1;
    writeFileSync(join(dir, BLOB.reference), ref);
    const err = await load(dir).catch((e: Error) => e.message);
    expect(err).toMatch(/optimizer\.safetensors is missing/);
    expect(err).toMatch(/trainable\.safetensors is 100 bytes, the manifest says \d+ \(truncated\)/);
    expect(err).toMatch(/reference\.safetensors has checksum xxh32:[0-9a-f]{8}, the manifest says xxh32:[0-9a-f]{8} \(its bytes changed\)/);
    expect(err).toMatch(/---> HINT: this checkpoint is damaged: resume from an earlier one/);
  });

  it('a manifest of another format or version, or none', async () => {
    const dir = await saved();
    const m = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as { version: number; format: string };
    writeFileSync(join(dir, MANIFEST_FILE), JSON.stringify({ ...m, version: 99 }));
    await expect(load(dir)).rejects.toThrow(/is a version 99 checkpoint; this build reads version 1/);
    writeFileSync(join(dir, MANIFEST_FILE), '{"format": "something-else"}');
    await expect(load(dir)).rejects.toThrow(/not a PrefStudio checkpoint manifest/);
    writeFileSync(join(dir, MANIFEST_FILE), '{"format": "prefstudio-chec');
    await expect(load(dir)).rejects.toThrow(/manifest.json is not valid JSON/);
    rmSync(join(dir, MANIFEST_FILE));
    await expect(load(dir)).rejects.toThrow(/has no manifest/);
    // a folder named like a checkpoint but without a manifest is reported, never deleted
    const store = nodeCheckpointStore(join(dir, '..'));
    expect(await store.scan()).toEqual({ steps: [], partial: [], ignored: ['checkpoint-5'] });
    await store.clean();
    expect(readdirSync(join(dir, '..'))).toEqual(['checkpoint-5']);
  });

  it('a KV checkpoint with a lost chunk', async () => {
    const kv = createMemoryBackend();
    const store = kvCheckpointStore(kv, 'r/');
    await saveCheckpoint(store, trainerAt(1), { metrics: [] });
    await kv.del('r/checkpoint-1/blob/metrics.jsonl/000000');
    await expect(loadCheckpoint(store.open(1))).rejects.toThrow(/checkpoint-1: metrics\.jsonl is missing/);
  });
});
