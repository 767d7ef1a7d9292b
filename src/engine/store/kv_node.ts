// Node-only parts of the weight store: a KVBackend over files in a directory, and an import
// source over a checkpoint directory. The ONLY store file with node: imports — browser code must
// never import it (the studio uses kv_idb.ts and File objects instead).
//
// Layout: one file per key in `dir`, named encodeURIComponent(key) (so 'data/m/chunk/x/0' becomes
// 'data%2Fm%2Fchunk%2Fx%2F0'); its first byte says what follows:
//   0x00  raw bytes (a weight chunk, a tokenizer file)
//   0x01  UTF-8 JSON (a manifest, an import record)
// A write goes to '.tmp-<pid>-<n>-<name>' in the same directory, is fsynced, then renamed over the
// key's file: rename is atomic, so a reader (or a process restarted after a crash) sees the old
// value or the new one. Leftover '.tmp-*' files of a crashed writer are removed when the backend
// is opened. A full disk (ENOSPC, EDQUOT) is isQuotaError() and leaves the old value in place.

import { mkdir, open, readFile, readdir, rename, rm, stat, statfs } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { LoadError } from '../errors.ts';
import type { ByteReader } from '../model/safetensors.ts';
import { fmtBytes } from '../util/bytes.ts';
import { compareKeys, type JsonValue, type KVBackend, type KVValue } from './kv.ts';
import type { ImportSource, SourceFile } from './import.ts';

const TAG_BYTES = 0x00;
const TAG_JSON = 0x01;
const TMP_PREFIX = '.tmp-';

/** File name of a key: URI-encoded, and never starting with '.' (reserved for temp files). */
function fileOf(key: string): string {
  const enc = encodeURIComponent(key);
  return enc.startsWith('.') ? `%2E${enc.slice(1)}` : enc;
}

function keyOf(file: string): string | null {
  if (file.startsWith('.')) return null;
  try {
    return decodeURIComponent(file);
  } catch {
    return null; // not one of ours
  }
}

let tmpCounter = 0;

/**
 * A KVBackend storing each key as a file in `dir` (created if missing). Removes temp files that
 * a crashed writer left behind.
 */
export async function createFileBackend(dir: string): Promise<KVBackend> {
  await mkdir(dir, { recursive: true });
  for (const f of await readdir(dir)) {
    if (f.startsWith(TMP_PREFIX)) await rm(join(dir, f), { force: true });
  }
  return {
    label: `files in ${dir}`,
    freshGets: true, // readFile allocates a new buffer per call
    async get(key) {
      let buf: Buffer;
      try {
        buf = await readFile(join(dir, fileOf(key)));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
      if (buf.length === 0 || (buf[0] !== TAG_BYTES && buf[0] !== TAG_JSON)) {
        throw new LoadError(`${dir}/${fileOf(key)}`, `is not a weight-store file (it should start with a type byte 0 or 1; it is ${buf.length} bytes long)`, 'delete the file, or the whole store directory, and import the model again');
      }
      if (buf[0] === TAG_JSON) return JSON.parse(buf.toString('utf8', 1)) as JsonValue;
      return new Uint8Array(buf.buffer, buf.byteOffset + 1, buf.length - 1);
    },
    async set(key, value: KVValue) {
      const final = join(dir, fileOf(key));
      const tmp = join(dir, `${TMP_PREFIX}${process.pid}-${tmpCounter++}-${fileOf(key)}`.slice(0, 250));
      const body = value instanceof Uint8Array ? value : new TextEncoder().encode(JSON.stringify(value));
      const fh = await open(tmp, 'w');
      try {
        await fh.write(Uint8Array.of(value instanceof Uint8Array ? TAG_BYTES : TAG_JSON));
        for (let off = 0; off < body.length; ) {
          const { bytesWritten } = await fh.write(body, off, body.length - off);
          off += bytesWritten;
        }
        await fh.sync(); // the data is on disk before the rename makes it visible
        await fh.close();
        await rename(tmp, final);
      } catch (e) {
        await fh.close().catch(() => {});
        await rm(tmp, { force: true });
        throw e;
      }
    },
    async del(key) {
      await rm(join(dir, fileOf(key)), { force: true });
    },
    async keys(prefix) {
      const out: string[] = [];
      for (const f of await readdir(dir)) {
        const k = keyOf(f);
        if (k !== null && k.startsWith(prefix)) out.push(k);
      }
      return out.sort(compareKeys);
    },
    async freeSpace() {
      const s = await statfs(dir);
      const available = s.bavail * s.bsize;
      return { available, detail: `statfs(${dir}): ${fmtBytes(available)} available to this user` };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// import source: a checkpoint directory

/** A ByteReader over a file on disk (opens, reads at `offset`, closes). */
export function fileReader(path: string): ByteReader {
  return async (offset, length) => {
    const fh = await open(path, 'r');
    try {
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(out, done, length - done, offset + done);
        if (bytesRead === 0) break; // end of file: the caller sees a short read
        done += bytesRead;
      }
      return done === length ? out : out.subarray(0, done);
    } finally {
      await fh.close();
    }
  };
}

/**
 * The files of a checkpoint directory (config.json, *.safetensors, the index, tokenizer files) as
 * an ImportSource; the directory's name becomes the model's default name. Subdirectories are ignored.
 */
export async function sourceFromDirectory(dir: string): Promise<ImportSource> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    throw new LoadError(dir, `cannot be read as a checkpoint directory (${(e as Error).message})`, 'give the path of the folder that holds config.json and the .safetensors files');
  }
  const files: SourceFile[] = [];
  for (const name of names.sort(compareKeys)) {
    const path = join(dir, name);
    const st = await stat(path);
    if (!st.isFile()) continue;
    files.push({ name, size: st.size, read: fileReader(path), fresh: true });
  }
  return { name: basename(dir), files };
}
