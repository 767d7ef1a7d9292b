// The KVBackend contract on the memory and file backends (IndexedDB: e2e/store.chromium.test.ts):
// values by value, prefix listing in key order, del of absent keys, the quota error, and for
// files the atomic temp-file-then-rename write.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createMemoryBackend, isQuotaError, type KVBackend } from './kv.ts';
import { createFileBackend } from './kv_node.ts';

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'prefstudio-kv-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const backends: [string, () => Promise<KVBackend>][] = [
  ['memory', async () => createMemoryBackend()],
  ['files', () => createFileBackend(tempDir())],
];

describe.each(backends)('KVBackend contract: %s', (_, make) => {
  it('stores bytes and JSON by value', async () => {
    const kv = await make();
    const bytes = Uint8Array.from([1, 2, 3, 250]);
    await kv.set('data/a/chunk/model.safetensors/0', bytes);
    bytes[0] = 99; // the store holds a copy
    expect(Array.from((await kv.get('data/a/chunk/model.safetensors/0')) as Uint8Array)).toEqual([1, 2, 3, 250]);
    const json = { name: 'x', list: [1, 2.5, null], nested: { ok: true } };
    await kv.set('manifest/a', json);
    expect(await kv.get('manifest/a')).toEqual(json);
    expect(await kv.get('manifest/none')).toBeUndefined();
    await kv.set('empty', new Uint8Array(0));
    expect(((await kv.get('empty')) as Uint8Array).length).toBe(0);
  });

  it('overwrites, deletes (also absent keys) and lists by prefix in key order', async () => {
    const kv = await make();
    for (const k of ['data/b/2', 'data/b/10', 'data/a/1', 'data/bb/1', 'manifest/b']) await kv.set(k, k);
    await kv.set('data/b/2', 'again');
    expect(await kv.get('data/b/2')).toBe('again');
    expect(await kv.keys('data/b/')).toEqual(['data/b/10', 'data/b/2']);
    expect(await kv.keys('data/')).toEqual(['data/a/1', 'data/b/10', 'data/b/2', 'data/bb/1']);
    expect(await kv.keys('nothing/')).toEqual([]);
    await kv.del('data/b/10');
    await kv.del('data/b/never-there');
    expect(await kv.keys('data/b/')).toEqual(['data/b/2']);
  });

  it('keeps odd characters of file names in keys', async () => {
    const kv = await make();
    const key = 'data/m/file/tokenizer config (1).json%20é';
    await kv.set(key, Uint8Array.of(7));
    expect(await kv.keys('data/m/file/')).toEqual([key]);
    expect(Array.from((await kv.get(key)) as Uint8Array)).toEqual([7]);
  });

  it('reports free space (a number or null) with where it comes from', async () => {
    const fs = await (await make()).freeSpace();
    expect(fs.available === null || fs.available >= 0).toBe(true);
    expect(fs.detail.length).toBeGreaterThan(0);
  });
});

describe('memory backend quota', () => {
  it('refuses a write over the quota with QuotaExceededError and keeps the old value', async () => {
    const kv = createMemoryBackend({ quota: 100 });
    await kv.set('a', new Uint8Array(60));
    await kv.set('b', new Uint8Array(40));
    const err = await kv.set('a', new Uint8Array(61)).catch((e: unknown) => e);
    expect(isQuotaError(err)).toBe(true);
    expect(((await kv.get('a')) as Uint8Array).length).toBe(60);
    expect(kv.usedBytes()).toBe(100);
    expect((await kv.freeSpace()).available).toBe(0);
    await kv.del('b');
    expect((await kv.freeSpace()).available).toBe(40);
  });
});

describe('file backend', () => {
  it('writes through a temp file and rename, and removes temp files a crashed writer left', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.tmp-1234-0-data%2Fx'), 'half a chunk'); // a crash mid-write
    const kv = await createFileBackend(dir);
    expect(readdirSync(dir)).toEqual([]); // the leftover is gone and is no key
    await kv.set('data/x/chunk/f/0', new Uint8Array(1 << 16).fill(5));
    await kv.set('manifest/x', { id: 'x' });
    expect(readdirSync(dir).sort()).toEqual(['data%2Fx%2Fchunk%2Ff%2F0', 'manifest%2Fx']); // no temp files remain
    // a second backend on the same directory (a restarted process) sees the same values
    const again = await createFileBackend(dir);
    expect(await again.get('manifest/x')).toEqual({ id: 'x' });
    expect(((await again.get('data/x/chunk/f/0')) as Uint8Array).every((b) => b === 5)).toBe(true);
  });

  it('names a file that is not a store file', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'manifest%2Fbad'), '');
    const kv = await createFileBackend(dir);
    await expect(kv.get('manifest/bad')).rejects.toThrow(/manifest%2Fbad: is not a weight-store file/);
  });

  it('turns a full disk into a quota error', () => {
    expect(isQuotaError(Object.assign(new Error('no space'), { code: 'ENOSPC' }))).toBe(true);
    expect(isQuotaError(Object.assign(new Error('quota'), { code: 'EDQUOT' }))).toBe(true);
    expect(isQuotaError(new Error('other'))).toBe(false);
  });
});

describe('browser safety', () => {
  it('only kv_node.ts imports node: modules, and only tests import kv_node.ts', () => {
    const dir = import.meta.dirname;
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.ts') && !x.endsWith('.test.ts') && x !== 'kv_node.ts')) {
      const text = readFileSync(join(dir, f), 'utf8');
      expect(/from\s+['"]node:/.test(text), `${f} imports a node: module (only kv_node.ts may)`).toBe(false);
      expect(/from\s+['"][^'"]*kv_node(\.ts)?['"]/.test(text), `${f} imports kv_node.ts, which would pull node:fs into the browser`).toBe(false);
    }
  });
});
