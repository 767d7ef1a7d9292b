// Node only: the files of a checkpoint directory as CheckpointFile readers (positional reads, so a
// multi-GB shard is never held in memory). Browser code uses File objects instead.
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LoadError } from '../errors.ts';
import type { CheckpointFile } from './load.ts';

export async function checkpointFilesFromDir(dir: string): Promise<CheckpointFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    throw new LoadError(dir, `cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`, 'pass the path of a model folder holding config.json and .safetensors files');
  }
  const files: CheckpointFile[] = [];
  for (const name of names.sort()) {
    const path = join(dir, name);
    const s = await stat(path);
    if (!s.isFile()) continue;
    files.push({
      name,
      size: s.size,
      read: async (offset, length) => {
        const fh = await open(path, 'r');
        try {
          const buf = new Uint8Array(length);
          let got = 0;
          while (got < length) {
            const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
            if (bytesRead === 0) break;
            got += bytesRead;
          }
          return got === length ? buf : buf.subarray(0, got);
        } finally {
          await fh.close();
        }
      },
    });
  }
  return files;
}
