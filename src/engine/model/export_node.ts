// Node: writing an exported checkpoint (model/export.ts encodeCheckpoint) as a folder, so that a
// crash at any moment never leaves a half-written checkpoint where DIR should be.
//
//   1. every file goes into a new sibling folder DIR.tmp-XXXXXX, each fsynced;
//   2. no DIR yet: rename DIR.tmp-XXXXXX → DIR (atomic);
//      DIR exists: rename DIR → DIR.old-XXXXXX, then DIR.tmp-XXXXXX → DIR, then remove the old one.
//      POSIX cannot swap two folders atomically; a crash between the two renames leaves no DIR but
//      both complete versions beside it (DIR.old-… the previous, DIR.tmp-… the new one), never a
//      mix. The next successful write removes such leftovers.
//
// Not here: what the files hold (export.ts). Only this file of model/ imports node: modules.

import { mkdir, mkdtemp, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { EngineError } from '../errors.ts';
import type { ExportedFile, StreamedFile } from './export.ts';

/**
 * Writes `files` as the folder `dir` (created, or replaced as a whole). A streamed file's bytes are
 * produced while it is written (export.ts encodeCheckpointStream); if producing them fails, the
 * previous folder stays as it was.
 */
export async function writeCheckpointDir(dir: string, files: readonly (ExportedFile | StreamedFile)[]): Promise<void> {
  const where = 'writeCheckpointDir';
  const target = resolve(dir);
  const parent = dirname(target);
  const base = basename(target);
  const seen = new Set<string>();
  for (const f of files) {
    if (!/^[^/\\]+$/.test(f.path) || f.path === '.' || f.path === '..') throw new EngineError(where, `file name '${f.path}' must be a plain name (a checkpoint folder is flat)`);
    if (seen.has(f.path)) throw new EngineError(where, `file '${f.path}' is given twice`);
    seen.add(f.path);
  }
  const existing = await stat(target).catch(() => null);
  if (existing && !existing.isDirectory()) throw new EngineError(where, `${target} exists and is not a folder`, 'choose another output path');
  await mkdir(parent, { recursive: true });

  const tmp = await mkdtemp(join(parent, `${base}.tmp-`));
  try {
    for (const f of files) await writeFileSynced(join(tmp, f.path), 'parts' in f ? f.parts : f.chunks(), f.size);
    await syncDir(tmp);
    if (existing) {
      const old = await mkdtemp(join(parent, `${base}.old-`)); // a free name; the rename replaces the empty folder
      await rename(target, old);
      await rename(tmp, target);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(tmp, target);
    }
    await syncDir(parent);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  // Leftovers of an earlier write that crashed between its renames (or while writing).
  for (const name of await readdir(parent)) {
    if (name.startsWith(`${base}.tmp-`) || name.startsWith(`${base}.old-`)) await rm(join(parent, name), { recursive: true, force: true });
  }
}

export async function writeFileSynced(path: string, parts: Iterable<Uint8Array> | AsyncIterable<Uint8Array>, size: number): Promise<void> {
  const fh = await open(path, 'wx');
  try {
    let total = 0;
    for await (const bytes of parts) {
      total += bytes.length;
      for (let off = 0; off < bytes.length; ) {
        const { bytesWritten } = await fh.write(bytes, off, bytes.length - off);
        off += bytesWritten;
      }
    }
    if (total !== size) throw new EngineError('writeCheckpointDir', `internal: ${basename(path)} was announced as ${size} bytes but ${total} were produced`);
    await fh.sync(); // on disk before the rename makes it visible
  } finally {
    await fh.close();
  }
}

/** fsync of a folder, so a rename in it is durable (best effort: not every file system allows it). */
export async function syncDir(path: string): Promise<void> {
  const fh = await open(path, 'r').catch(() => null);
  if (!fh) return;
  await fh.sync().catch(() => {});
  await fh.close();
}
