// The tied embedding's backward (issue 9): Gemma-2 reads one [V, C] table twice, in the embedding
// gather and in the fused LM head (logprobs). When the table (or each of its row parts) is a leaf,
// both backward contributions are added straight into its .grad (tape.ts leafGradTarget), so a
// backward holds ONE [V, C] f32 gradient instead of two before the tape adds them; a frozen table
// (f32 without requiresGrad, or 16-bit) gets none at all. Checked here:
// - values: the tied gradient against finite differences of the float64 reference (whole table and
//   row parts), and bit for bit equal to the tape's own sum (the same table behind a view, which is
//   not a leaf, so each op returns its own gradient as before);
// - memory, on fresh engines (the pool's livePeak is a high-water mark): the live bytes a backward
//   adds stay under 1.5 [V, C] gradients for a trainable leaf (the non-leaf control shows the
//   two it would otherwise build), and under half of one for a frozen f32 or bf16 table.
import { Engine } from '../../../src/engine/engine.ts';
import { add } from '../../../src/engine/ops/elementwise.ts';
import { embedding } from '../../../src/engine/ops/embedding.ts';
import { logprobs } from '../../../src/engine/ops/logprobs.ts';
import { embeddingRef } from '../../../src/engine/reference/embedding.ts';
import { logprobsRef } from '../../../src/engine/reference/logprobs.ts';
import type { VocabTable } from '../../../src/engine/table.ts';
import type { Tensor } from '../../../src/engine/tensor.ts';
import { f32ToBf16Bits } from '../../../src/engine/util/halfs.ts';
import { checkOp, Rng, type GpuCase, type InputSpec, type Tol } from '../harness.ts';
import { tableOf } from './weights16.ts';

const rng = new Rng(77);
// logprobs' tolerances (src/engine/check/cases/logprobs.ts); the gather adds exact copies.
const fwd: Tol = { atol: 3e-5, rtol: 1e-6 };
const bwd: Tol = { atol: 3e-5, rtol: 1e-5 };

/** logprobs(embedding(E, ids)·scale, E): the tied model's two reads of E, end to end. */
function tiedForward(E: VocabTable, ids: number[], labels: Tensor, scale: number, cap: number): Tensor[] {
  const h = embedding(E, Int32Array.from(ids), { scale });
  const r = logprobs(h, E, labels, { softcap: cap, sliceSize: 64, chunkSize: 48 });
  return [r.logp, r.lse, r.lsp2];
}

function gradCase(bounds: number[], C: number): GpuCase {
  const n = bounds.length - 1;
  const V = bounds[n];
  const T = 7;
  const ids = Array.from({ length: T }, (_, t) => (t === 3 ? 0 : t === 4 ? V - 1 : rng.int(0, V)));
  ids[5] = ids[1]; // a repeated id: two scatter rows into one table row
  const labels = Array.from({ length: T }, (_, t) => (t === 6 ? -100 : t === 0 ? ids[0] : rng.int(0, V))); // one label equal to its own input id
  const [scale, cap] = [1.5, 30];
  const desc = `V=${V} C=${C}${n > 1 ? ` parts [${bounds.join(', ')}]` : ''}`;
  return {
    name: `tied embedding: gradient of logprobs(embedding(E), E) wrt E vs finite differences, ${desc}`,
    run: (e) =>
      checkOp(e, {
        name: `tied embedding ${desc}`,
        inputs: [
          ...bounds.slice(1).map((end, i): InputSpec => ({ data: rng.array((end - bounds[i]) * C, -1, 1), shape: [end - bounds[i], C] })),
          { data: labels, shape: [T], dtype: 'i32' },
        ],
        gpu: (xs) => tiedForward(tableOf(xs.slice(0, n), bounds, C), ids, xs[n], scale, cap),
        cpu: (xs) => {
          const E = Float64Array.from(xs.slice(0, n).flatMap((p) => Array.from(p)));
          const h = embeddingRef(E, ids, C, scale);
          const r = logprobsRef(h, E, xs[n], T, C, V, cap);
          return [r.logp, r.lse, r.lsp2];
        },
        detached: [2],
        fwd,
        bwd,
      }),
  };
}

/** E.grad after a tied backward with seeds on logp and lse; `viaView` puts a (non-leaf) view in between. */
async function tiedGrad(e: Engine, data: Float32Array, V: number, C: number, viaView: boolean): Promise<Float32Array> {
  const T = 9;
  const E = e.tensor(data, [V, C], { requiresGrad: true, label: 'E' });
  const table = viaView ? e.view(E, [V, C], 'E.view') : E;
  const ids = Array.from({ length: T }, (_, t) => (t * 37) % V);
  const labels = e.tensor(Array.from({ length: T }, (_, t) => (t * 53 + 1) % V), [T], { dtype: 'i32' });
  const [logp, lse, lsp2] = tiedForward(table, ids, labels, 1.25, 30);
  const seeds = [e.tensor(Float32Array.from({ length: T }, (_, t) => 0.5 - t / 7), [T]), e.tensor(Float32Array.from({ length: T }, (_, t) => t / 11 - 0.25), [T])];
  e.backward([logp, lse], { seeds });
  const g = Float32Array.from(await E.grad!.readF32());
  [E, labels, logp, lse, lsp2, ...seeds, ...(viaView ? [table as Tensor] : [])].forEach((t) => t.dispose());
  E.grad?.dispose();
  return g;
}

/**
 * Live bytes a tied forward + backward adds on a fresh engine: [after the forward, the backward's
 * high-water mark] minus what was live before the forward (the table and inputs).
 */
async function backwardBytes(gpu: GPU, V: number, C: number, mode: 'leaf' | 'view' | 'frozen' | 'bf16'): Promise<{ forward: number; backward: number }> {
  const f = await Engine.create(gpu);
  try {
    const T = 4;
    const values = Float32Array.from(rng.array(V * C, -0.5, 0.5));
    const E = mode === 'bf16' ? f.tensor(f32ToBf16Bits(values), [V, C], { dtype: 'bf16', label: 'E' }) : f.tensor(values, [V, C], { requiresGrad: mode === 'leaf' || mode === 'view', label: 'E' });
    const table = mode === 'view' ? f.view(E, [V, C], 'E.view') : E;
    // With a frozen table the gradient flows to a hidden-state offset instead (a LoRA-like leaf).
    const offset = f.tensor(Float32Array.from(rng.array(T * C)), [T, C], { requiresGrad: true, label: 'offset' });
    const labels = f.tensor([1, V - 1, 7, 0], [T], { dtype: 'i32' });
    const seed = f.tensor([1, -0.5, 0.25, 2], [T]);
    await f.sync();
    const base = f.pool.getStats().inUse;
    const h = add(embedding(table, Int32Array.from([3, 0, V - 1, 5]), { scale: 2 }), offset);
    const r = logprobs(h, table, labels, { softcap: 30 });
    await f.sync();
    const forward = f.pool.getStats().inUse - base;
    f.backward(r.logp, { seeds: [seed] });
    await f.sync();
    const backward = f.pool.getStats().livePeak - base;
    const needsGrad = mode === 'leaf' || mode === 'view';
    if (needsGrad !== (E.grad !== null)) throw new Error(`${mode} table: gradient ${E.grad ? 'present' : 'missing'}`);
    if (!offset.grad) throw new Error(`${mode} table: the offset leaf got no gradient`);
    return { forward, backward };
  } finally {
    f.destroy();
  }
}

export const cases: GpuCase[] = [
  gradCase([0, 150], 8),
  gradCase([0, 64, 65, 150], 6),
  {
    name: 'tied embedding: accumulating into the leaf .grad equals the tape adding two gradients, bit for bit',
    run: async (e) => {
      const [V, C] = [200, 12];
      const data = Float32Array.from(rng.array(V * C, -1, 1));
      const direct = await tiedGrad(e, data, V, C, false);
      const tape = await tiedGrad(e, data, V, C, true);
      for (let i = 0; i < direct.length; i++) {
        if (direct[i] !== tape[i]) throw new Error(`E.grad[${i}] (row ${Math.floor(i / C)}): ${direct[i]} accumulated in place, ${tape[i]} summed by the tape`);
      }
      if (!direct.some((x) => x !== 0)) throw new Error('the tied gradient is all zeros');
    },
  },
  {
    name: 'tied embedding: a backward holds one [V, C] gradient (not two); a frozen f32 or bf16 table none',
    run: async (e) => {
      const [V, C] = [8192, 64]; // one [V, C] f32 gradient = 2 MiB, far above everything else here
      const grad = V * C * 4;
      const mib = (b: number): string => `${(b / 2 ** 20).toFixed(2)} MiB`;
      const leaf = await backwardBytes(e.gpu, V, C, 'leaf');
      const view = await backwardBytes(e.gpu, V, C, 'view');
      const frozen = await backwardBytes(e.gpu, V, C, 'frozen');
      const bf16 = await backwardBytes(e.gpu, V, C, 'bf16');
      const report = `leaf ${mib(leaf.backward)}, non-leaf ${mib(view.backward)}, frozen ${mib(frozen.backward)}, bf16 ${mib(bf16.backward)} (one gradient = ${mib(grad)}; forward held ${mib(leaf.forward)})`;
      if (!(leaf.backward >= grad && leaf.backward < 1.5 * grad)) throw new Error(`a trainable leaf table's backward should add one [V, C] gradient: ${report}`);
      // Control: behind a view each op returns its own [V, C] gradient and the tape adds them.
      if (!(view.backward >= 2 * grad)) throw new Error(`the non-leaf control should hold two [V, C] gradients (the measurement sees them): ${report}`);
      for (const [name, m] of [['frozen f32', frozen], ['bf16', bf16]] as const) {
        if (!(m.backward < 0.5 * grad)) throw new Error(`a ${name} table's backward must build no [V, C] gradient: ${report}`);
      }
    },
  },
];
