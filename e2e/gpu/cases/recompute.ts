// Activation recomputation (src/engine/recompute.ts): two residual blocks y = h + softcap(h·W1, 5)·W2
// sharing W1 and W2, each wrapped in recompute(). Checked against a float64 reference and its finite
// differences (inputs and both weights, which are leaves read inside the recomputed function), for
// bitwise equality with the same blocks recorded plainly, for holding less memory between forward
// and backward, for the frozen-input case (only the weights need gradients) and for refusing a
// captured tensor that needs a gradient.
import type { Engine } from '../../../src/engine/engine.ts';
import { EngineError } from '../../../src/engine/errors.ts';
import { add } from '../../../src/engine/ops/elementwise.ts';
import { matmul } from '../../../src/engine/ops/matmul.ts';
import { softcap } from '../../../src/engine/ops/softcap.ts';
import { recompute } from '../../../src/engine/recompute.ts';
import { addRef } from '../../../src/engine/reference/elementwise.ts';
import { matmulRef } from '../../../src/engine/reference/matmul.ts';
import { softcapRef } from '../../../src/engine/reference/softcap.ts';
import type { Tensor } from '../../../src/engine/tensor.ts';
import { checkOp, expectClose, Rng, type GpuCase } from '../harness.ts';

const rng = new Rng(41);
const exact = { atol: 0, rtol: 0 };

/** h + softcap(h·W1, 5)·W2 with h [R, C], W1 [C, H], W2 [H, C]. */
const block = (w1: Tensor, w2: Tensor) => (h: Tensor): Tensor => add(h, matmul(softcap(matmul(h, w1), 5), w2));
/** The same block reading a captured tensor that needs no gradient: h + softcap(h·W1 + bias, 5)·W2. */
const biasedBlock = (w1: Tensor, w2: Tensor, bias: Tensor) => (h: Tensor): Tensor => add(h, matmul(softcap(add(matmul(h, w1), bias), 5), w2));

function blockRef(h: Float64Array, w1: Float64Array, w2: Float64Array, R: number, C: number, H: number): Float64Array {
  const u = softcapRef(matmulRef(h, w1, R, H, C), 5);
  return addRef(h, [R, C], matmulRef(u, w2, R, C, H), [R, C]);
}

/**
 * Two blocks, plain or each recomputed. With `bias` (zeros, no gradient) the blocks read it from
 * their closure and it is disposed right after the forward, as forwardHidden disposes its positions.
 */
function twoBlocks(e: Engine, x: Tensor, w1: Tensor, w2: Tensor, checkpoint: boolean, withBias = false): Tensor {
  const bias = withBias ? e.zeros([w1.shape[1]], 'test.bias') : null;
  const f = bias ? biasedBlock(w1, w2, bias) : block(w1, w2);
  const run = (h: Tensor): Tensor => (checkpoint ? recompute(e, f, [h], 'test.block') : e.tidy(() => f(h)));
  const h1 = run(x);
  const y = run(h1);
  h1.dispose(); // held by the tape until the backward
  bias?.dispose(); // so is the captured bias
  return y;
}

async function gradsOf(e: Engine, data: { x: Float32Array; w1: Float32Array; w2: Float32Array; dy: Float32Array }, R: number, C: number, H: number, checkpoint: boolean, xGrad = true, withBias = false) {
  const x = e.tensor(data.x, [R, C], { requiresGrad: xGrad, label: 'test.x' });
  const w1 = e.tensor(data.w1, [C, H], { requiresGrad: true, label: 'test.w1' });
  const w2 = e.tensor(data.w2, [H, C], { requiresGrad: true, label: 'test.w2' });
  const dy = e.tensor(data.dy, [R, C], { label: 'test.dy' });
  e.flush();
  const before = e.pool.getStats().inUse;
  const y = twoBlocks(e, x, w1, w2, checkpoint, withBias);
  const held = e.pool.getStats().inUse - before;
  e.backward(y, { seeds: [dy] });
  const [out, gx, g1, g2] = await e.readMany([y, x.grad ?? y, w1.grad!, w2.grad!]);
  [x, w1, w2, dy, y].forEach((t) => t.dispose());
  return { out: Float32Array.from(out as Float32Array), gx: xGrad ? Float32Array.from(gx as Float32Array) : null, g1: Float32Array.from(g1 as Float32Array), g2: Float32Array.from(g2 as Float32Array), held };
}

export const cases: GpuCase[] = [
  {
    name: 'recompute: two residual blocks vs float64 reference and finite differences (input and shared weights)',
    run: (e) => {
      const [R, C, H] = [7, 12, 20];
      return checkOp(e, {
        name: 'recompute blocks',
        inputs: [
          { data: rng.array(R * C, -1, 1), shape: [R, C] },
          { data: rng.array(C * H, -0.5, 0.5), shape: [C, H] },
          { data: rng.array(H * C, -0.5, 0.5), shape: [H, C] },
        ],
        gpu: ([x, w1, w2]) => twoBlocks(e, x, w1, w2, true),
        cpu: ([x, w1, w2]) => [blockRef(blockRef(x, w1, w2, R, C, H), w1, w2, R, C, H)],
        fwd: { atol: 1e-5, rtol: 1e-5 },
        bwd: { atol: 2e-4, rtol: 2e-3 },
      });
    },
  },
  {
    name: 'recompute: gradients bitwise equal to the plainly recorded blocks, with fewer bytes held until the backward',
    run: async (e) => {
      const [R, C, H] = [96, 64, 256];
      const data = { x: Float32Array.from(rng.array(R * C, -1, 1)), w1: Float32Array.from(rng.array(C * H, -0.2, 0.2)), w2: Float32Array.from(rng.array(H * C, -0.2, 0.2)), dy: Float32Array.from(rng.array(R * C, -1, 1)) };
      const plain = await gradsOf(e, data, R, C, H, false);
      const ckpt = await gradsOf(e, data, R, C, H, true);
      expectClose(ckpt.out, plain.out, exact, 'output');
      expectClose(ckpt.gx!, plain.gx!, exact, 'dx');
      expectClose(ckpt.g1, plain.g1, exact, 'dW1');
      expectClose(ckpt.g2, plain.g2, exact, 'dW2');
      // plain keeps h·W1, softcap, ·W2 per block ([R,H]×2 + [R,C]×2); recomputed: the block outputs only
      if (!(ckpt.held <= plain.held / 3)) throw new Error(`recompute held ${ckpt.held} B between forward and backward, plain ${plain.held} B: expected at most a third`);
      // frozen input: only the weights inside the recomputed function need gradients
      const frozenPlain = await gradsOf(e, data, R, C, H, false, false);
      const frozenCkpt = await gradsOf(e, data, R, C, H, true, false);
      expectClose(frozenCkpt.g1, frozenPlain.g1, exact, 'dW1 (frozen input)');
      expectClose(frozenCkpt.g2, frozenPlain.g2, exact, 'dW2 (frozen input)');
      // a captured tensor without gradient, disposed after the forward, is held for the re-run
      const biased = await gradsOf(e, data, R, C, H, true, true, true);
      expectClose(biased.gx!, plain.gx!, exact, 'dx (captured zero bias)');
      expectClose(biased.g1, plain.g1, exact, 'dW1 (captured zero bias)');
    },
  },
  {
    name: 'recompute: a captured tensor that needs a gradient is refused, naming it; under noGrad it just runs',
    run: async (e) => {
      const w = e.tensor([1, 2, 3, 4], [2, 2], { requiresGrad: true, label: 'test.w' });
      const x = e.tensor([1, 1, 1, 1], [2, 2], { requiresGrad: true, label: 'test.x' });
      const z = matmul(x, w); // recorded, needs a gradient
      let err: unknown = null;
      try {
        recompute(e, (h) => add(h, z), [x], 'test.captured');
      } catch (caught) {
        err = caught;
      }
      if (!(err instanceof EngineError) || !String(err).includes('matmul.out')) throw new Error(`expected an EngineError naming the captured tensor, got ${String(err)}`);
      const y = e.noGrad(() => recompute(e, (h) => matmul(h, w), [x]));
      if (y.requiresGrad || y.node) throw new Error('recompute under noGrad recorded a node');
      expectClose(await y.read(), [4, 6, 4, 6], exact, 'noGrad recompute output');
      e.releaseGraph(z);
      [w, x, z, y].forEach((t) => t.dispose());
    },
  },
];
