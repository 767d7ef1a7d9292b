// Node: training checkpoints as folders, HF Trainer's layout — DIR/checkpoint-<step>/ holding
// manifest.json and the blobs of train/checkpoint.ts as files.
//
// A write never shows a half-written checkpoint:
//   1. every blob goes into a new folder DIR/checkpoint-N.tmp-XXXXXX/, each file fsynced, then
//      manifest.json (fsynced too), then the folder itself is fsynced;
//   2. rename DIR/checkpoint-N.tmp-XXXXXX → DIR/checkpoint-N (atomic) and fsync DIR. A checkpoint
//      of the same step already there is renamed to checkpoint-N.old-XXXXXX first and removed after.
// A crash leaves at most a checkpoint-N.tmp-… / .old-… folder: scan() reports it as partial and
// clean() removes it. A checkpoint-N folder without manifest.json (not written by us, or copied in
// half) is never deleted, only reported as ignored.
//
// Only this file of train/ imports node: modules.

import { mkdir, mkdtemp, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { syncDir, writeFileSynced } from '../model/export_node.ts';
import { fileReader } from '../store/kv_node.ts';
import { CHECKPOINT_NAME, CheckpointError, checkpointName, latestCheckpoint, loadCheckpoint, type CheckpointSource, type CheckpointStore, type LoadedCheckpoint } from './checkpoint.ts';
import { checkSameRun } from './checkpoint_state.ts';
import type { TrainExample, TrainOptions } from './trainer.ts';

export const MANIFEST_FILE = 'manifest.json';
const LEFTOVER = /^checkpoint-\d+\.(tmp|old)-/;

/** The checkpoints of the run whose output folder is `dir` (created on the first write). */
export function nodeCheckpointStore(dir: string): CheckpointStore {
  const root = resolve(dir);
  const entries = async (): Promise<string[]> => {
    try {
      return await readdir(root);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  };
  const store: CheckpointStore = {
    label: root,
    async scan() {
      const steps: number[] = [];
      const partial: string[] = [];
      const ignored: string[] = [];
      for (const name of await entries()) {
        if (LEFTOVER.test(name)) partial.push(name);
        const m = CHECKPOINT_NAME.exec(name);
        if (!m) continue;
        if (await isFile(join(root, name, MANIFEST_FILE))) steps.push(Number(m[1]));
        else ignored.push(name);
      }
      return { steps: steps.sort((a, b) => a - b), partial: partial.sort(), ignored: ignored.sort() };
    },
    async clean() {
      const { partial } = await store.scan();
      for (const name of partial) await rm(join(root, name), { recursive: true, force: true });
      return partial;
    },
    async write(step, blobs, manifest, hooks) {
      await mkdir(root, { recursive: true });
      const final = join(root, checkpointName(step));
      const tmp = await mkdtemp(join(root, `${checkpointName(step)}.tmp-`));
      try {
        for (const b of blobs) {
          await writeFileSynced(join(tmp, b.name), b.parts, b.parts.reduce((n, p) => n + p.length, 0));
          await hooks?.afterBlob?.(b.name);
        }
        const text = new TextEncoder().encode(`${JSON.stringify(manifest, null, 1)}\n`);
        await writeFileSynced(join(tmp, MANIFEST_FILE), [text], text.length);
        await syncDir(tmp);
        if (await stat(final).catch(() => null)) {
          const old = await mkdtemp(join(root, `${checkpointName(step)}.old-`));
          await rename(final, old);
          await rename(tmp, final);
          await rm(old, { recursive: true, force: true });
        } else await rename(tmp, final);
        await syncDir(root);
      } catch (e) {
        await rm(tmp, { recursive: true, force: true });
        throw e;
      }
      return final;
    },
    open: (step) => openCheckpointDir(join(root, checkpointName(step))),
    async remove(step) {
      // Renamed away first, so a crash mid-removal leaves a leftover, not a damaged checkpoint.
      const path = join(root, checkpointName(step));
      if (!(await stat(path).catch(() => null))) return;
      const gone = await mkdtemp(join(root, `${checkpointName(step)}.old-`));
      await rename(path, gone);
      await rm(gone, { recursive: true, force: true });
    },
  };
  return store;
}

/** One checkpoint folder (e.g. the DIR of --resume DIR), to read. */
export function openCheckpointDir(dir: string): CheckpointSource {
  const path = resolve(dir);
  return {
    label: path,
    async manifest() {
      let text: string;
      try {
        text = await readFile(join(path, MANIFEST_FILE), 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return { format: `(${MANIFEST_FILE} is not valid JSON)` };
      }
    },
    async blob(name) {
      const st = await stat(join(path, name)).catch(() => null);
      if (!st?.isFile()) return undefined;
      return { size: st.size, read: fileReader(join(path, name)) };
    },
  };
}

/**
 * The checkpoint a run resumes from (`--resume DIR`, or `--resume` alone: `dir`'s newest complete
 * one), read and validated, and checked against the run's settings and data — all before any
 * weights load. Throws naming what is missing or differs, and what to do.
 */
export async function readResume(dir: string, from: string | null, opts: TrainOptions, examples: readonly TrainExample[]): Promise<LoadedCheckpoint> {
  let src: CheckpointSource;
  if (from === null) {
    const store = nodeCheckpointStore(dir);
    const step = await latestCheckpoint(store);
    if (step === null) {
      const { ignored } = await store.scan();
      throw new CheckpointError('--resume', `there is no complete checkpoint in ${resolve(dir)}${ignored.length ? ` (${ignored.join(', ')} ha${ignored.length > 1 ? 've' : 's'} no ${MANIFEST_FILE})` : ''}`, 'start the run without --resume (and with --save_steps N to write checkpoints), or give --resume DIR/checkpoint-N');
    }
    src = store.open(step);
  } else {
    if (!(await stat(from).catch(() => null))?.isDirectory()) throw new CheckpointError('--resume', `${resolve(from)} is not a folder`, 'give a checkpoint folder (OUT/checkpoint-N), or --resume alone for the newest under --out');
    src = openCheckpointDir(from);
  }
  const ck = await loadCheckpoint(src);
  checkSameRun(ck.state.meta, opts, examples);
  return ck;
}

/** The step in a folder name checkpoint-<step>, or null. */
export function checkpointStep(name: string): number | null {
  const m = CHECKPOINT_NAME.exec(name);
  return m ? Number(m[1]) : null;
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isFile() === true;
}
