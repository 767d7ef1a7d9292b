// Elementwise arithmetic with NumPy broadcasting (shapes right-aligned, each dim equal or 1):
//   add(a, b) = a + b      dA = sumTo(dy, shape(a)),      dB = sumTo(dy, shape(b))
//   mul(a, b) = a · b      dA = sumTo(dy · b, shape(a)),  dB = sumTo(a · dy, shape(b))
//   scale(x, s) = s · x    dx = s · dy
//   sub(a, b) = add(a, scale(b, −1))   a composition: no backward of its own (micrograd's way)
// A broadcast operand's gradient is the output gradient summed over the dims it was repeated
// along (sumTo in ops/reduce.ts: one writer per element, fixed order, deterministic).
// Shader: src/gpu/shaders/elementwise.wgsl. Reference: src/engine/reference/elementwise.ts.

import { f32 } from '../engine.ts';
import { ShapeError, fmtShape } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import { collapseDims, sameShape, sumTo } from './reduce.ts';
import { expectDtype } from './util.ts';

/** The NumPy broadcast of two shapes (right-aligned; each pair equal or one of them 1). */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    // i counts from the right; missing leading dims act as 1.
    const da = a[a.length - 1 - i] ?? 1;
    const db = b[b.length - 1 - i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(op, `shapes ${fmtShape(a)} and ${fmtShape(b)} do not broadcast: dim ${rank - 1 - i} of the result would need ${da} = ${db}`, 'dims are matched from the right; each pair must be equal or one of them 1');
    }
    out[rank - 1 - i] = da === 1 ? db : da;
  }
  return out;
}

/** The gradient of an operand of shape `shape` from dy: dy itself, or dy summed over broadcast dims. */
function gradFor(dy: Tensor, shape: readonly number[]): Tensor {
  return sameShape(dy.shape, shape) ? dy : sumTo(dy, shape);
}

/** Like gradFor, but `t` is a temporary this backward made: it is consumed (returned or disposed). */
function gradFromTemp(t: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(t.shape, shape)) return t;
  const g = sumTo(t, shape);
  t.dispose();
  return g;
}

/** y = a OP b with broadcasting, on the GPU (no tape). OP: 0 add, 1 mul. */
function binaryForward(op: 'add' | 'mul', a: Tensor, b: Tensor): Tensor {
  expectDtype(op, 'a', a, 'f32');
  expectDtype(op, 'b', b, 'f32');
  const e = a.engine;
  const shape = broadcastShapes(op, a.shape, b.shape);
  const y = e.empty(shape, 'f32', `${op}.y`);
  const n = y.size;
  if (n === 0) return y;
  const overrides = { OP: op === 'mul' ? 1 : 0 };
  const c = collapseDims(op, shape, [a.shape, b.shape]);
  const [sa, sb] = c.strides;
  if (c.dims.length === 1 && sa[0] === 1 && sb[0] === 1) {
    // Same shape (after dropping 1s): flat vec4 loop, no index math.
    const n4 = Math.ceil(n / 4);
    e.run({ op: `${op}.forward`, shader: 'elementwise', entry: 'binary_same', inputs: [a, b], outputs: [y], params: [n4], workgroups: e.grid(n4, 256), overrides });
  } else {
    const pad8 = (v: number[]) => [...v, ...new Array<number>(8 - v.length).fill(0)];
    const params = [n, c.dims.length, 0, 0, ...pad8(c.dims), ...pad8(sa), ...pad8(sb)];
    e.run({ op: `${op}.forward`, shader: 'elementwise', entry: 'binary_broadcast', inputs: [a, b], outputs: [y], params, workgroups: e.grid(n, 256), overrides });
  }
  return y;
}

/** a + b with NumPy broadcasting (any rank; at most 6 dims once equal-pattern dims are merged). */
export function add(a: Tensor, b: Tensor): Tensor {
  const y = binaryForward('add', a, b);
  a.engine.tape.record({
    op: 'add',
    inputs: [a, b],
    outputs: [y],
    // dy passes straight through where no broadcast happened (the tape copies it if shared).
    backward: ([dy]) => [a.requiresGrad ? gradFor(dy!, a.shape) : null, b.requiresGrad ? gradFor(dy!, b.shape) : null],
  });
  return y;
}

/** a · b (elementwise) with NumPy broadcasting. Keeps a and b for the backward: don't dispose them before it. */
export function mul(a: Tensor, b: Tensor): Tensor {
  const y = binaryForward('mul', a, b);
  a.engine.tape.record({
    op: 'mul',
    inputs: [a, b],
    outputs: [y],
    // dy · b and a · dy have the output's shape; broadcast operands then sum back to their own.
    backward: ([dy]) => [
      a.requiresGrad ? gradFromTemp(binaryForward('mul', dy!, b), a.shape) : null,
      b.requiresGrad ? gradFromTemp(binaryForward('mul', a, dy!), b.shape) : null,
    ],
  });
  return y;
}

/** s · x for a JS number s. */
export function scale(x: Tensor, s: number): Tensor {
  expectDtype('scale', 'x', x, 'f32');
  const y = scaleForward(x, s);
  x.engine.tape.record({
    op: 'scale',
    inputs: [x],
    outputs: [y],
    backward: ([dy]) => [scaleForward(dy!, s)],
  });
  return y;
}

function scaleForward(x: Tensor, s: number): Tensor {
  const e = x.engine;
  const y = e.empty(x.shape, 'f32', 'scale.y');
  if (y.size === 0) return y;
  const n4 = Math.ceil(y.size / 4);
  e.run({ op: 'scale.forward', shader: 'elementwise', entry: 'scale_forward', inputs: [x], outputs: [y], params: [n4, f32(s)], workgroups: e.grid(n4, 256) });
  return y;
}

/** a − b with broadcasting, composed as add(a, scale(b, −1)); the tape sees the two primitives. */
export function sub(a: Tensor, b: Tensor): Tensor {
  expectDtype('sub', 'a', a, 'f32');
  expectDtype('sub', 'b', b, 'f32');
  broadcastShapes('sub', a.shape, b.shape); // throws before anything is allocated
  const negB = scale(b, -1);
  const y = add(a, negB);
  // add's backward never reads its inputs' data, so the temporary can go now (the tape keeps the
  // handle only to route dy to scale's backward).
  negB.dispose();
  return y;
}
