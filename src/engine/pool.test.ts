// BufferPool without a device: size classes, reuse within a batch (GPU-written tensors) and after a
// submit (host-written ones), the high-water trim, trim(), the byte budget,
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
  it('size classes: at least 256 B, powers of two split into eighths (at most 12.5 % over the request)', () => {
    expect([1, 256, 257, 1000, 1024, 1025, 1300, 5000].map(sizeClass)).toEqual([256, 256, 288, 1024, 1024, 1152, 1408, 5120]);
    for (let b = 257; b < 100_000; b += 97) {
      const c = sizeClass(b);
      expect(c).toBeGreaterThanOrEqual(b);
      expect(c / b).toBeLessThanOrEqual(1.125);
    }
  });

  it('a buffer released mid-batch serves a GPU-written tensor at once, a host-written one only after the submit', () => {
    const { pool, made } = fakePool();
    const a = pool.acquire(1000, 'a');
    pool.release(a); // encoded commands may still read a
    expect(pool.acquire(1000, 'host', 'host')).not.toBe(a); // queue.writeBuffer would land before them
    expect(made.length).toBe(2);
    const g = pool.acquire(1000, 'gpu'); // a dispatch output: written after them, in encoding order
    expect(g).toBe(a);
    expect(pool.getStats().reusedInBatch).toBe(1);
    pool.release(g);
    pool.afterSubmit();
    expect(pool.acquire(1000, 'host after submit', 'host')).toBe(a);
    expect(made.length).toBe(2);
  });

  it('stats: inUse drops at release, free holds idle buffers, peak and livePeak', () => {
    const { pool } = fakePool();
    const a = pool.acquire(4096, 'a');
    const b = pool.acquire(4096, 'b');
    pool.release(a);
    expect(pool.getStats()).toMatchObject({ inUse: 4096, free: 4096, peak: 8192, livePeak: 8192 });
    pool.acquire(4096, 'c'); // reuses a
    pool.release(b);
    expect(pool.getStats()).toMatchObject({ inUse: 4096, free: 4096, peak: 8192, livePeak: 8192, created: 2 });
  });

  it('growing past the live high-water mark: a somewhat larger idle buffer serves instead (≤ 1.5× its class)', () => {
    const { pool, made } = fakePool();
    const a = pool.acquire(8192, 'a');
    pool.release(pool.acquire(4096, 'b'));
    pool.release(a);
    pool.afterSubmit(); // live peak 12288, both idle
    expect(pool.acquire(6000, 'c')).toBe(a); // 6144 class: a new one would pass the mark; 8192 ≤ 1.5 × 6144
    expect(made.length).toBe(2);
    expect(pool.acquire(2000, 'd')).not.toBe(made[1]); // 4096 > 1.5 × 2048: too large, a new buffer
    expect(made.length).toBe(3);
  });

  it('before growing past the mark, cold idle buffers go (oldest first); warm ones stay', () => {
    for (const aged of [false, true]) {
      const { pool, made } = fakePool();
      const a = pool.acquire(8192, 'a');
      const b = pool.acquire(4096, 'b');
      pool.release(a); // released first: the oldest
      pool.release(b);
      pool.afterSubmit();
      // Cold = released before the last 2 × footprint bytes of acquisitions (about a step's reuse).
      if (aged) for (let i = 0; i < 200; i++) pool.release(pool.acquire(256, 'churn'));
      pool.afterSubmit();
      pool.acquire(2000, 'c'); // a new 2048: 12288 idle + 256 + 2048 would pass the 12288 mark
      expect(made[0].destroyed, `a destroyed (aged ${aged})`).toBe(aged);
      expect(made[1].destroyed).toBe(false); // one buffer was enough room
    }
  });

  it('a new buffer supersedes an idle, somewhat smaller one (a longer sequence than the last step)', () => {
    const { pool, made } = fakePool();
    pool.release(pool.acquire(4000, 'short')); // 4096, warm
    pool.afterSubmit();
    pool.acquire(5000, 'long'); // 5120: 4096 ≥ 5120 / 1.5, so requests that fit it fit the new one
    expect(made[0].destroyed).toBe(true);
    expect(pool.getStats()).toMatchObject({ inUse: 5120, free: 0, peak: 5120, destroyed: 1 });
  });

  it('dirty buffers are never destroyed to make room (unsubmitted commands may use them)', () => {
    const { pool, made } = fakePool();
    pool.release(pool.acquire(4096, 'a'));
    pool.acquire(20_000, 'b');
    expect(made[0].destroyed).toBe(false);
    expect(pool.getStats().peak).toBe(4096 + 20480);
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

  it('a budget flushes to free dirty buffers before refusing', () => {
    let flushes = 0;
    const made: FakeBuffer[] = [];
    const pool: BufferPool = new BufferPool(
      1 << 30,
      (desc) => {
        const b: FakeBuffer = { size: desc.size, label: desc.label ?? '', destroyed: false, destroy() { this.destroyed = true; } };
        made.push(b);
        return b as unknown as GPUBuffer;
      },
      () => {
        flushes++;
        pool.afterSubmit();
      },
    );
    pool.setBudget(8192);
    pool.release(pool.acquire(4096, 'a')); // dirty
    pool.acquire(8000, 'b'); // 4096 dirty + 8192 > budget: flush, then trim it
    expect(flushes).toBe(1);
    expect(made[0].destroyed).toBe(true);
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
    pool.release(pool.acquire(200_000, 'earlier')); // a high-water mark the next buffers stay under
    pool.afterSubmit();
    pool.trim();
    const idle = pool.acquire(2048, 'idle');
    pool.release(idle);
    pool.afterSubmit();
    pool.acquire(1024, 'live');
    const failed = pool.acquire(100_000, 'failed'); // the device could not allocate this one
    expect(made[1].destroyed).toBe(false); // under the high-water mark: the idle buffer was kept
    const msg = pool.outOfMemory(failed);
    expect(msg).toMatch(/freed/);
    expect(made[1].destroyed).toBe(true); // the idle buffer
    const s = pool.getStats();
    expect(s.budget).toBe(1024 + 2048); // what the device held: live + idle, without the failed one
    pool.release(failed);
    pool.afterSubmit();
    expect(made[3].destroyed).toBe(true);
    expect(pool.getStats().free).toBe(0);
    // The same request now fails at once with a clear error instead of an invalid buffer.
    expect(() => pool.acquire(100_000, 'retry')).toThrow(OutOfMemoryError);
    pool.acquire(1024, 'small'); // what fits still works
  });
});
