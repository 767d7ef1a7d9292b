// BufferPool without a device: size classes, reuse only after a submit, trim(), the byte budget,
// and what happens when the device reports out-of-memory for one of its allocations (the engine's
// error scope calls outOfMemory(buf): the failed buffer is never reused, idle buffers are freed and
// the pool is capped at what the device held).
import { describe, expect, it } from 'vitest';
import { BufferPool, OutOfMemoryError, sizeClass } from './pool.ts';

interface FakeBuffer {
  size: number;
  label: string;
  destroyed: boolean;
  destroy(): void;
}

function fakePool(maxBufferSize = 1 << 30): { pool: BufferPool; made: FakeBuffer[] } {
  const made: FakeBuffer[] = [];
  const pool = new BufferPool(maxBufferSize, (desc) => {
    const b: FakeBuffer = {
      size: desc.size,
      label: desc.label ?? '',
      destroyed: false,
      destroy() {
        this.destroyed = true;
      },
    };
    made.push(b);
    return b as unknown as GPUBuffer;
  });
  return { pool, made };
}

describe('BufferPool', () => {
  it('size classes: at least 256 B, powers of two split into quarters', () => {
    expect([1, 256, 257, 1000, 1024, 1025, 1300, 5000].map(sizeClass)).toEqual([256, 256, 320, 1024, 1024, 1280, 1536, 5120]);
  });

  it('reuses a released buffer only after the next submit', () => {
    const { pool, made } = fakePool();
    const a = pool.acquire(1000, 'a');
    pool.release(a);
    pool.acquire(1000, 'b'); // a is still pending: a new buffer
    expect(made.length).toBe(2);
    pool.afterSubmit();
    const c = pool.acquire(1000, 'c');
    expect(c).toBe(a);
    expect(made.length).toBe(2);
  });

  it('trim() destroys idle buffers only and returns their bytes', () => {
    const { pool, made } = fakePool();
    const a = pool.acquire(1000, 'a');
    const b = pool.acquire(5000, 'b');
    pool.acquire(300, 'live');
    pool.release(a);
    pool.release(b);
    pool.afterSubmit();
    expect(pool.trim()).toBe(1024 + 5120);
    expect(made.map((m) => m.destroyed)).toEqual([true, true, false]);
    const s = pool.getStats();
    expect([s.free, s.inUse, s.destroyed]).toEqual([0, 320, 2]);
  });

  it('a budget trims idle buffers before growing, and refuses what cannot fit, naming the tensor', () => {
    const { pool, made } = fakePool();
    pool.setBudget(8192);
    const a = pool.acquire(4096, 'a');
    pool.release(a);
    pool.afterSubmit();
    pool.acquire(5000, 'b'); // 4096 idle + 5120 > 8192: the idle buffer goes first
    expect(made[0].destroyed).toBe(true);
    expect(() => pool.acquire(4096, 'test.too_big')).toThrow(OutOfMemoryError);
    expect(() => pool.acquire(4096, 'test.too_big')).toThrow(/test\.too_big/);
    pool.acquire(3000, 'fits'); // 5120 + 3072 = 8192: exactly the budget
  });

  it('outOfMemory(buf): the failed buffer is destroyed on release (never reused), idle buffers freed, pool capped', () => {
    const { pool, made } = fakePool();
    const idle = pool.acquire(2048, 'idle');
    pool.release(idle);
    pool.afterSubmit();
    pool.acquire(1024, 'live');
    const failed = pool.acquire(100_000, 'failed'); // the device could not allocate this one
    const msg = pool.outOfMemory(failed);
    expect(msg).toMatch(/freed/);
    expect(made[0].destroyed).toBe(true); // the idle buffer
    const s = pool.getStats();
    expect(s.budget).toBe(1024 + 2048); // what the device held: live + idle, without the failed one
    pool.release(failed);
    pool.afterSubmit();
    expect(made[2].destroyed).toBe(true);
    expect(pool.getStats().free).toBe(0);
    // The same request now fails at once with a clear error instead of an invalid buffer.
    expect(() => pool.acquire(100_000, 'retry')).toThrow(OutOfMemoryError);
    pool.acquire(1024, 'small'); // what fits still works
  });
});
