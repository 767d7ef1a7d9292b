// LoadError: everything that goes wrong while reading a checkpoint (config.json, safetensors
// headers, the sharded index) or while matching it against the model.
//
// LoadError itself lives with the other engine errors (src/engine/errors.ts); `where` names the file
// (and the tensor or key) and the message ends in a "---> HINT" line saying what to do.
//
// Not here: I/O. Reading bytes (File, Blob, fetch, fs) is the caller's business.

import { LoadError } from '../errors.ts';

export { LoadError };

/** `file` alone, or `file, tensor 'name'` / `file, key 'name'`: the `where` of a LoadError. */
export function loadWhere(file: string, what?: string): string {
  return what === undefined ? file : `${file}, ${what}`;
}
