// geluTanh and geglu: Gemma-2's MLP activation (spec gemma2-and-formats.md §1.4 MLP, §1.5).
//   geluTanh(x)     = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))   PyTorch gelu(approximate='tanh')
//   geglu(gate, up) = geluTanh(gate) ⊙ up                          the fused GeGLU product
// Backward: dx = dy·gelu'(x), with gelu' from §1.5; geglu: dgate = dy·up·gelu'(gate), dup = dy·gelu(gate).
// Both read the forward's inputs (tape inputs stay alive), so nothing extra is saved.
// Not the erf GELU (Gemma-1 7b); the kernel evaluates the tanh form through a cancellation-free
// sigmoid identity (see the header of the shader).
// Shader: src/gpu/shaders/gelu_tanh.wgsl. Reference: src/engine/reference/gelu_tanh.ts.

import { ShapeError, fmtShape } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import { expectDtype } from './util.ts';

/** y = gelu_tanh(x), elementwise, any shape. */
export function geluTanh(x: Tensor): Tensor {
  expectDtype('geluTanh', 'x', x, 'f32');
  const e = x.engine;
  const y = e.empty(x.shape, 'f32', 'geluTanh.y');
  e.run({ op: 'geluTanh.forward', shader: 'gelu_tanh', entry: 'gelu_tanh_forward', inputs: [x], outputs: [y], params: [x.size], workgroups: e.grid(x.size, 256) });
  e.tape.record({
    op: 'geluTanh',
    inputs: [x],
    outputs: [y],
    backward: ([dy]) => {
      const dx = e.empty(x.shape, 'f32', 'geluTanh.dx');
      e.run({ op: 'geluTanh.backward', shader: 'gelu_tanh', entry: 'gelu_tanh_backward', inputs: [dy!, x], outputs: [dx], params: [x.size], workgroups: e.grid(x.size, 256) });
      return [dx];
    },
  });
  return y;
}

/** y = gelu_tanh(gate) ⊙ up, elementwise; gate and up have the same shape (e.g. [T, FF]). */
export function geglu(gate: Tensor, up: Tensor): Tensor {
  expectDtype('geglu', 'gate', gate, 'f32');
  expectDtype('geglu', 'up', up, 'f32');
  if (gate.shape.length !== up.shape.length || gate.shape.some((d, i) => d !== up.shape[i])) {
    throw new ShapeError('geglu', `gate ${fmtShape(gate.shape)} and up ${fmtShape(up.shape)} must have the same shape`, 'both are [T, FF] outputs of the MLP gate and up projections');
  }
  const e = gate.engine;
  const n = gate.size;
  const y = e.empty(gate.shape, 'f32', 'geglu.y');
  e.run({ op: 'geglu.forward', shader: 'gelu_tanh', entry: 'geglu_forward', inputs: [gate, up], outputs: [y], params: [n], workgroups: e.grid(n, 256) });
  e.tape.record({
    op: 'geglu',
    inputs: [gate, up],
    outputs: [y],
    backward: ([dy]) => {
      // One kernel writes both gradients; the unneeded one is freed here rather than computed
      // by a second kernel variant (it costs one extra write of n floats).
      const dgate = e.empty(gate.shape, 'f32', 'geglu.dgate');
      const dup = e.empty(up.shape, 'f32', 'geglu.dup');
      e.run({ op: 'geglu.backward', shader: 'gelu_tanh', entry: 'geglu_backward', inputs: [dy!, gate, up], outputs: [dgate, dup], params: [n], workgroups: e.grid(n, 256) });
      if (!gate.requiresGrad) dgate.dispose();
      if (!up.requiresGrad) dup.dispose();
      return [gate.requiresGrad ? dgate : null, up.requiresGrad ? dup : null];
    },
  });
  return y;
}
