// Engine-level behaviour: fill/copy/accumulate, the buffer pool, the pipeline cache, raised
// limits, autograd's rules (noGrad, accumulation, fan-out, NoBackwardError) and error routing
// (GPU validation errors and a lost device become typed EngineErrors naming the op).
import { Engine } from '../../../src/engine/engine.ts';
import { DeviceLostError, GpuError, NoBackwardError } from '../../../src/engine/errors.ts';
import { matmul } from '../../../src/engine/ops/matmul.ts';
import { softcap } from '../../../src/engine/ops/softcap.ts';
import { matmulRef } from '../../../src/engine/reference/matmul.ts';
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
];
