// Engine-level behaviour: fill/copy/accumulate, the buffer pool (reuse, trim, budget), the
// pipeline cache, raised limits and the checks against them (binding size, 32-bit uniforms),
// autograd's rules (noGrad, accumulation, fan-out, NoBackwardError, no leak when a backward throws),
// tidy(), readMany() and the stats counters, and error routing (GPU validation errors and a lost
// device become typed EngineErrors naming the op).
import { Engine, f32 } from '../../../src/engine/engine.ts';
import { DeviceLostError, GpuError, NoBackwardError, ShapeError } from '../../../src/engine/errors.ts';
import { logprobs } from '../../../src/engine/ops/logprobs.ts';
import { matmul } from '../../../src/engine/ops/matmul.ts';
import { softcap } from '../../../src/engine/ops/softcap.ts';
import { AdamW } from '../../../src/engine/optim/adamw.ts';
import { OutOfMemoryError } from '../../../src/engine/pool.ts';
import { matmulRef } from '../../../src/engine/reference/matmul.ts';
import type { Tensor } from '../../../src/engine/tensor.ts';
import { checkOp, expectClose, Rng, type GpuCase } from '../harness.ts';

const exact = { atol: 0, rtol: 0 };
const rng = new Rng(3);

async function expectThrows(fn: () => unknown, check: (e: unknown) => boolean, what: string): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    if (!check(e)) throw new Error(`${what}: threw the wrong error: ${String(e)}`);
    return e;
  }
  throw new Error(`${what}: did not throw`);
}

/** Pool bytes in live tensors once released buffers have been handed back (after a flush). */
function inUse(e: Engine): number {
  e.flush();
  return e.pool.getStats().inUse;
}

/** y = Σ softcap(x·w, 5) as a [1, 1] loss through two recorded ops (for the tidy/tape cases). */
function smallLoss(e: Engine, x: Tensor, w: Tensor): Tensor {
  const h = matmul(x, w); // [2, 2]
  const c = softcap(h, 5);
  const ones = e.full([1, 2], 1);
  const r = matmul(ones, c); // [1, 2]
  const ones2 = e.full([2, 1], 1);
  return matmul(r, ones2); // [1, 1]
}

export const cases: GpuCase[] = [
  {
    name: 'engine: fill, copy, accumulate (n not a multiple of the workgroup)',
    run: async (e) => {
      const n = 1000;
      const a = e.full([n], 1.5);
      const b = e.tensor(Float32Array.from({ length: n }, (_, i) => i), [n]);
      const c = e.copy(b);
      e.accumulate(c, a);
      expectClose(await c.read(), Float64Array.from({ length: n }, (_, i) => i + 1.5), exact, 'copy+accumulate');
      [a, b, c].forEach((t) => t.dispose());
    },
  },
  {
    name: 'engine: uploads inside a batch land in order with the dispatches around them',
    run: async (e) => {
      const t = e.zeros([5]);
      e.fill(t, 1); // encoded, not yet submitted
      t.write(Float32Array.from([5, 6, 7, 8, 9])); // staged into the same batch: lands after the fill
      const c = e.copy(t); // sees the write
      e.fill(t, 2); // and a later dispatch overwrites it
      expectClose(await c.read(), [5, 6, 7, 8, 9], exact, 'copy after an in-batch write');
      expectClose(await t.read(), [2, 2, 2, 2, 2], exact, 'fill after an in-batch write');
      const odd = e.tensor(Uint16Array.from([0x3f80, 0x4000, 0x4040]), [3], { dtype: 'bf16' }); // 6 bytes, padded to 8
      expectClose(Array.from(await odd.read()), [0x3f80, 0x4000, 0x4040], exact, 'odd-sized 16-bit upload');
      [t, c, odd].forEach((x) => x.dispose());
    },
  },
  {
    name: 'engine: raised limits and labelled pipelines from the cache',
    run: async (e) => {
      if (e.limits.maxComputeWorkgroupStorageSize < 16384) throw new Error('workgroup storage below the spec default');
      if (e.limits.maxStorageBufferBindingSize < 134217728) throw new Error('binding size below the spec default');
      const p1 = e.pipeline('util', 'fill');
      const p2 = e.pipeline('util', 'fill');
      if (p1 !== p2) throw new Error('pipeline cache returned a new pipeline for the same key');
      if (p1.label !== 'util.fill.pipeline') throw new Error(`unexpected pipeline label ${p1.label}`);
    },
  },
  {
    name: 'engine: the pool reuses freed buffers after submit (no new createBuffer)',
    run: async (e) => {
      const a = e.zeros([1000]);
      await e.sync();
      a.dispose();
      e.flush();
      const before = e.pool.getStats().created;
      const b = e.zeros([1000]);
      const c = e.zeros([990]); // same size class? 3960 B and 4000 B both round to 4096
      await e.sync();
      const after = e.pool.getStats().created;
      if (after - before > 1) throw new Error(`expected at most one new buffer, created ${after - before}`);
      b.dispose();
      c.dispose();
    },
  },
  {
    name: 'autograd: fan-out accumulates, grads accumulate across backward calls, noGrad records nothing',
    run: async (e) => {
      // y = softcap(x, 3) · x  (x used twice) → dy/dx via both paths.
      const xs = rng.array(4 * 4);
      const x = e.tensor(Float32Array.from(xs), [4, 4], { requiresGrad: true });
      const loss = (): void => {
        const s = softcap(x, 3);
        const y = matmul(s, x);
        const seed = e.full([4, 4], 1);
        e.backward(y, { seeds: [seed] });
        [s, y, seed].forEach((t) => t.dispose());
      };
      loss();
      const g1 = Float64Array.from(await x.grad!.read());
      // Reference: L = Σ (S·X), S = 3 tanh(X/3): dL/dX = S'ᵀ·1 (via the right factor) + (1·Xᵀ)∘(1 − tanh²).
      const X = Float64Array.from(Float32Array.from(xs));
      const S = X.map((v) => 3 * Math.tanh(v / 3));
      const ones = new Float64Array(16).fill(1);
      const viaRight = matmulRef(S, ones, 4, 4, 4, true, false); // Sᵀ·1
      const viaLeft = matmulRef(ones, X, 4, 4, 4, false, true).map((v, i) => v * (1 - Math.tanh(X[i] / 3) ** 2));
      const want = viaRight.map((v, i) => v + viaLeft[i]);
      expectClose(g1, want, { atol: 1e-5, rtol: 1e-5 }, 'fan-out gradient');
      loss();
      expectClose(await x.grad!.read(), want.map((v) => 2 * v), { atol: 2e-5, rtol: 1e-5 }, 'accumulated gradient');
      // Under noGrad nothing is recorded: the output has no node and does not require grad.
      const z = e.noGrad(() => softcap(x, 3));
      if (z.node || z.requiresGrad) throw new Error('noGrad recorded an op');
      // Without any input requiring grad nothing is recorded either.
      const w = e.tensor([1, 2], [2]);
      const v = softcap(w, 3);
      if (v.node) throw new Error('an op without grad-requiring inputs was recorded');
      [x, z, w, v].forEach((t) => t.dispose());
    },
  },
  {
    name: 'engine: view shares the buffer, outlives its base, and is differentiable',
    run: async (e) => {
      const xs = rng.array(12);
      await checkOp(e, {
        name: 'view',
        inputs: [{ data: xs, shape: [12] }],
        gpu: ([x]) => {
          const v = e.view(x, [3, 4]);
          const y = matmul(v, v, { transB: true }); // [3, 3]
          v.dispose(); // the tape keeps what the backward needs
          return y;
        },
        cpu: ([x]) => [matmulRef(x, x, 3, 3, 4, false, true)],
        fwd: { atol: 1e-5, rtol: 1e-5 },
        bwd: { atol: 1e-4, rtol: 1e-4 },
      });
      const base = e.tensor([1, 2, 3, 4], [4]);
      const v = e.view(base, [2, 2]);
      base.dispose();
      expectClose(await v.read(), [1, 2, 3, 4], exact, 'view after its base was disposed');
      v.dispose();
    },
  },
  {
    name: 'autograd: a second backward through a freed graph throws instead of dropping gradients',
    run: async (e) => {
      const x = e.tensor([1, 2, 3, 4], [2, 2]);
      const w = e.tensor([1, 0, 0, 1], [2, 2], { requiresGrad: true });
      const h = matmul(x, w);
      const l1 = softcap(h, 5);
      const l2 = softcap(h, 7);
      const s = e.full([2, 2], 1);
      e.backward(l1, { seeds: [s] });
      const err = await expectThrows(() => e.backward(l2, { seeds: [s] }), (er) => String(er).includes('second time'), 'second backward');
      if (!String(err).includes('retainGraph')) throw new Error(`the message should say how to avoid it: ${String(err)}`);
      // With retainGraph the first backward keeps the shared part, and the gradients add up.
      w.zeroGrad();
      const h2 = matmul(x, w);
      const m1 = softcap(h2, 5);
      const m2 = softcap(h2, 7);
      e.backward(m1, { seeds: [s], retainGraph: true });
      e.backward(m2, { seeds: [s] });
      const both = await w.grad!.read();
      w.zeroGrad();
      const h3 = matmul(x, w);
      const n1 = softcap(h3, 5);
      e.backward(n1, { seeds: [s] });
      const one = await w.grad!.read();
      if (!(Math.abs(both[0]) > Math.abs(one[0]) * 1.5)) throw new Error(`retainGraph: gradients did not accumulate (${both[0]} vs ${one[0]})`);
      [x, w, h, l1, l2, s, h2, m1, m2, h3, n1].forEach((t) => t.dispose());
    },
  },
  {
    name: 'autograd: noGrad refuses an async function (it would stop recording for everyone)',
    run: async (e) => {
      await expectThrows(() => e.noGrad(async () => 1), (er) => String(er).includes('async'), 'noGrad(async)');
      const x = e.tensor([1], [1], { requiresGrad: true });
      const y = softcap(x, 2);
      if (!y.node) throw new Error('grad mode stayed off after the refused call');
      e.releaseGraph(y);
      [x, y].forEach((t) => t.dispose());
    },
  },
  {
    name: 'autograd: an op without a backward throws NoBackwardError naming it',
    run: async (e) => {
      const x = e.tensor([1, 2, 3], [3], { requiresGrad: true });
      const y = e.empty([3]);
      e.tape.record({ op: 'test.nobackward', inputs: [x], outputs: [y] });
      const s = e.full([3], 1);
      const err = await expectThrows(() => e.backward(y, { seeds: [s] }), (er) => er instanceof NoBackwardError, 'backward through an op without backward');
      if (!String(err).includes('test.nobackward')) throw new Error(`message does not name the op: ${String(err)}`);
      [x, y, s].forEach((t) => t.dispose());
    },
  },
  {
    name: 'errors: a GPU validation error surfaces as a GpuError naming the op',
    run: async (e) => {
      const y = e.empty([4]);
      // softcap_forward expects an input, an output and params: bind only the output.
      e.run({ op: 'test.badbinding', shader: 'softcap', entry: 'softcap_forward', inputs: [], outputs: [y], params: [4, 0], workgroups: [1] });
      const err = await expectThrows(() => e.sync(), (er) => er instanceof GpuError, 'invalid bind group');
      if (!String(err).includes('test.badbinding')) throw new Error(`message does not name the op: ${String(err)}`);
      y.dispose();
      await e.sync(); // the engine stays usable
    },
  },
  {
    name: 'errors: a lost device turns every later call into a DeviceLostError naming the op',
    run: async (e) => {
      // A second engine on the same adapter kind, destroyed on purpose.
      const e2 = await Engine.create(e.gpu);
      const t = e2.zeros([8]);
      e2.device.destroy();
      await e2.device.lost;
      await expectThrows(() => softcap(t, 2), (er) => er instanceof DeviceLostError && String(er).includes('softcap'), 'op on a lost device');
    },
  },
  {
    name: 'engine: empty() refuses a tensor over the binding limit (maxStorageBufferBindingSize), naming it',
    run: async (e) => {
      const small = await Engine.create(e.gpu, { defaultLimits: true }); // 128 MiB binding, 256 MiB buffer
      try {
        const lim = small.limits.maxStorageBufferBindingSize;
        if (small.limits.maxBufferSize <= lim) throw new Error(`test needs maxBufferSize > binding limit, got ${small.limits.maxBufferSize} vs ${lim}`);
        const rows = lim / 4 / 1024 + 1; // f32[rows, 1024]: one row over the binding limit, under maxBufferSize
        const err = await expectThrows(() => small.empty([rows, 1024], 'f32', 'test.big_table'), (x) => x instanceof ShapeError, 'over the binding limit');
        if (!String(err).includes('test.big_table') || !String(err).includes('maxStorageBufferBindingSize')) throw new Error(`message must name the tensor and the limit: ${String(err)}`);
        const ok = small.empty([lim / 4 / 1024, 1024], 'f32', 'test.fits'); // exactly at the limit
        ok.dispose();
      } finally {
        small.destroy();
      }
    },
  },
  {
    name: 'engine: uniform parameters that do not fit 32 bits are refused instead of wrapping',
    run: async (e) => {
      const t = e.zeros([4]);
      const fill = (params: (number | ReturnType<typeof f32>)[]) => () => e.run({ op: 'test.uniform', shader: 'util', entry: 'fill', inputs: [], outputs: [t], params, workgroups: [1] });
      for (const bad of [2 ** 32, 2 ** 32 + 4, -(2 ** 31) - 1, 1.5]) {
        const err = await expectThrows(fill([bad, f32(1)]), (x) => x instanceof ShapeError, `uniform ${bad}`);
        if (!String(err).includes('test.uniform') || !String(err).includes(String(bad))) throw new Error(`message must name the op and the value: ${String(err)}`);
      }
      fill([2 ** 32 - 1, f32(3)])(); // the largest u32 is fine (the kernel clamps to the tensor)
      fill([4, f32(2)])();
      expectClose(await t.read(), [2, 2, 2, 2], exact, 'fill after refused params');
      t.dispose();
    },
  },
  {
    name: 'engine: an exception during backward releases the tape (held tensors freed) and propagates',
    run: async (e) => {
      const base = inUse(e);
      const x = e.tensor([1, 2, 3], [3], { requiresGrad: true });
      const y = softcap(x, 3); // recorded: holds x and y
      const z = e.empty([3]);
      const tmp = e.zeros([3], 'test.owned');
      e.tape.record({
        op: 'test.throws',
        inputs: [y],
        outputs: [z],
        owned: [tmp],
        backward: () => {
          throw new Error('boom in test.throws');
        },
      });
      x.dispose(); // deferred: the tape holds them
      y.dispose();
      if (x.disposed || y.disposed || tmp.disposed) throw new Error('tape holds did not defer dispose');
      const s = e.full([3], 1);
      await expectThrows(() => e.backward(z, { seeds: [s] }), (er) => String(er).includes('boom in test.throws'), 'backward through a throwing node');
      if (!x.disposed || !y.disposed || !tmp.disposed) throw new Error(`graph not released after the exception: x ${x.disposed}, y ${y.disposed}, owned ${tmp.disposed}`);
      if (z.node) throw new Error('the throwing node is still attached to its output');
      [z, s].forEach((t) => t.dispose());
      if (inUse(e) !== base) throw new Error(`pool bytes in use ${inUse(e)} after the failed backward, ${base} before: the seed copy or the graph leaked`);
    },
  },
  {
    name: 'engine: pool.trim() destroys idle buffers; a budget trims before growing and refuses what cannot fit',
    run: async (e) => {
      const a = e.zeros([5000]);
      a.dispose();
      e.flush();
      const st = e.pool.getStats();
      if (st.free < 20000) throw new Error(`a freed buffer should be idle in the pool, free = ${st.free}`);
      const freed = e.pool.trim();
      const after = e.pool.getStats();
      if (freed !== st.free || after.free !== 0 || after.destroyed <= st.destroyed) throw new Error(`trim: freed ${freed} of ${st.free}, free now ${after.free}, destroyed ${st.destroyed} → ${after.destroyed}`);
      // A separate engine capped at 1 MiB.
      const b = await Engine.create(e.gpu, { memoryBudget: 1 << 20 });
      try {
        const t1 = b.zeros([150_000], 'test.t1'); // 600 kB class
        t1.dispose();
        b.flush();
        const t2 = b.zeros([170_000], 'test.t2'); // another class: the idle 600 kB must go first
        const s2 = b.pool.getStats();
        if (s2.destroyed !== 1 || s2.free !== 0) throw new Error(`budget: growing past it should trim the idle buffer first: ${JSON.stringify(s2)}`);
        const err = await expectThrows(() => b.zeros([170_000], 'test.t3'), (x) => x instanceof OutOfMemoryError, 'over the budget');
        if (!String(err).includes('test.t3')) throw new Error(`OutOfMemoryError must name the tensor: ${String(err)}`);
        expectClose(await t2.read(), new Float64Array(170_000), exact, 'tensor allocated after a trim');
        t2.dispose();
      } finally {
        b.destroy();
      }
    },
  },
  {
    name: 'engine: tidy() disposes what fn does not return (tensor / array / object), nests, and disposes all on throw',
    run: async (e) => {
      const base = inUse(e);
      let inner: Tensor[] = [];
      const out = e.tidy(() => {
        const a = e.full([3], 1);
        const b = e.full([3], 2);
        const kept = e.tidy(() => {
          const c = e.full([3], 3);
          const d = e.full([3], 4);
          inner = [c, d];
          return { c, list: [d] };
        });
        if (inner.some((t) => t.disposed)) throw new Error('inner tidy disposed what it returned');
        e.accumulate(kept.c, a); // c = 4
        return [kept.c, { b }];
      });
      const [c, { b }] = out as [Tensor, { b: Tensor }];
      if (c.disposed || b.disposed) throw new Error('outer tidy disposed a returned tensor');
      if (!inner[1].disposed) throw new Error('the outer tidy kept a tensor the inner returned but the outer did not');
      expectClose(await c.read(), [4, 4, 4], exact, 'tidy result');
      [b, c].forEach((t) => t.dispose());
      if (inUse(e) !== base) throw new Error(`tidy leaked: ${inUse(e) - base} bytes`);
      let made: Tensor | null = null;
      await expectThrows(
        () =>
          e.tidy(() => {
            made = e.full([3], 1);
            throw new Error('boom in tidy');
          }),
        (er) => String(er).includes('boom in tidy'),
        'tidy rethrows',
      );
      if (!made || !(made as Tensor).disposed) throw new Error('tidy did not dispose on throw');
      await expectThrows(() => e.tidy(async () => e.full([1], 1)), (er) => String(er).includes('async'), 'tidy(async)');
      if (inUse(e) !== base) throw new Error(`tidy leaked after throws: ${inUse(e) - base} bytes`);
    },
  },
  {
    name: 'engine: tidy() with the tape: saved tensors stay valid until backward, leaf grads and optimizer state survive',
    run: async (e) => {
      const xs = [0.5, -1, 2, 1.5];
      const ws = [1, -0.5, 0.25, 2];
      const x = e.tensor(xs, [2, 2]);
      const w = e.tensor(ws, [2, 2], { requiresGrad: true });
      // Reference gradient without tidy.
      const l0 = smallLoss(e, x, w);
      e.backward(l0);
      const want = await w.grad!.read();
      w.zeroGrad();
      l0.dispose();
      const base = inUse(e);
      // Forward inside tidy, backward outside: intermediates were "disposed" by tidy but held.
      const loss = e.tidy(() => smallLoss(e, x, w));
      e.backward(loss);
      expectClose(await w.grad!.read(), want, exact, 'gradient through a tidy forward');
      w.zeroGrad();
      loss.dispose();
      if (inUse(e) !== base) throw new Error(`tidy forward + backward leaked ${inUse(e) - base} bytes`);
      // Forward, backward and an optimizer step inside one tidy: the leaf grad and AdamW state live on.
      const opt = new AdamW([w], { lr: 0.01 });
      e.tidy(() => {
        e.backward(smallLoss(e, x, w));
        opt.step();
      });
      if (!w.grad || w.grad.disposed) throw new Error('tidy disposed the leaf gradient backward stored');
      expectClose(await w.grad.read(), want, exact, 'gradient from backward inside tidy');
      if (opt.state(w)!.m.disposed) throw new Error('tidy disposed optimizer state');
      // The fused logprobs op keeps a private lse copy ("owned") for its backward: tidy must not free it early.
      const h = e.tensor([0.1, 0.2, -0.3, 0.4, 0.5, -0.6], [2, 3], { requiresGrad: true });
      const E = e.tensor([1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1], [4, 3]);
      const y = e.tensor([1, 3], [2], { dtype: 'i32' });
      const logp = e.tidy(() => logprobs(h, E, y, { softcap: 0 }).logp);
      const seed = e.full([2], 1);
      e.backward(logp, { seeds: [seed] });
      if (!h.grad) throw new Error('logprobs inside tidy: no gradient');
      [x, w, h, E, y, logp, seed].forEach((t) => t.dispose());
      opt.dispose();
    },
  },
  {
    name: 'engine: readMany copies every dtype with one staging buffer and one GPU wait, without flushing at the call',
    run: async (e) => {
      const a = e.tensor([1.5, -2, 3], [3]);
      const b = e.tensor([-7, 8], [2], { dtype: 'i32' });
      const c = e.tensor([0xffffffff, 0, 42], [3], { dtype: 'u32' });
      const d = e.tensor(Uint16Array.from([0x3f80, 0x4000, 0x4040]), [3], { dtype: 'bf16' });
      e.fill(a, 5); // encoded, not submitted: readMany must see it
      await e.sync();
      e.fill(a, 6);
      const before = { ...e.stats };
      const pending = e.readMany([a, b, c, d]);
      if (e.stats.submits !== before.submits) throw new Error('readMany submitted at the call; it should wait for the next flush or the caller yielding');
      // Work encoded after the call does not change what is read; the tensors may even be disposed.
      e.fill(a, 9);
      const [ra, rb, rc, rd] = await pending;
      expectClose(ra, [6, 6, 6], exact, 'readMany f32 (value at the call)');
      expectClose(rb, [-7, 8], exact, 'readMany i32');
      expectClose(rc, [0xffffffff, 0, 42], exact, 'readMany u32');
      expectClose(rd, [0x3f80, 0x4000, 0x4040], exact, 'readMany bf16 words');
      if (e.stats.syncs - before.syncs !== 1) throw new Error(`readMany of 4 tensors waited ${e.stats.syncs - before.syncs} times, want 1`);
      if (e.stats.submits - before.submits !== 1) throw new Error(`readMany: ${e.stats.submits - before.submits} submits, want 1`);
      expectClose(await a.read(), [9, 9, 9], exact, 'work encoded after readMany ran');
      if ((await e.readMany([])).length !== 0) throw new Error('readMany([]) should give []');
      a.dispose();
      await expectThrows(() => e.readMany([b, a]), (er) => String(er).includes('dispose'), 'readMany of a disposed tensor');
      [b, c, d].forEach((t) => t.dispose());
    },
  },
  {
    name: 'engine: stats count dispatches, submits, syncs and pipeline compilations',
    run: async (e) => {
      const t = e.zeros([10]);
      await e.sync();
      const s0 = { ...e.stats };
      e.fill(t, 1);
      e.fill(t, 2);
      await e.sync();
      const s1 = { ...e.stats };
      if (s1.dispatches - s0.dispatches !== 2 || s1.submits - s0.submits !== 1 || s1.syncs - s0.syncs !== 1 || s1.pipelineCompiles !== s0.pipelineCompiles) {
        throw new Error(`two fills + sync: ${JSON.stringify(s0)} → ${JSON.stringify(s1)}`);
      }
      const u = softcap(t, 123.5); // softcap_forward may be new to this engine: at most one compilation
      const s2 = { ...e.stats };
      softcap(t, 7).dispose();
      if (e.stats.pipelineCompiles !== s2.pipelineCompiles) throw new Error('a cached pipeline was compiled again');
      [t, u].forEach((x) => x.dispose());
    },
  },
];
