// The bytes of a file named on the command line, or a LoadError naming it (Node only).

import { readFile } from 'node:fs/promises';
import { LoadError } from '../engine/errors.ts';

export async function readFileBytes(path: string, hint = 'check the path'): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    throw new LoadError(path, `cannot be read (${(e as Error).message})`, hint);
  }
}
