// softcap: y = cap·tanh(x / cap) elementwise (Gemma-2 spec §1.4: attention scores cap 50 before
// the mask, final logits cap 30). Backward: dx = dy·(1 − (y/cap)²), from the saved output.
// Shader: src/gpu/shaders/softcap.wgsl. Reference: src/engine/reference/softcap.ts.

import { f32 } from '../engine.ts';
import { ShapeError } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import { expectDtype } from './util.ts';

export function softcap(x: Tensor, cap: number): Tensor {
  expectDtype('softcap', 'x', x, 'f32');
  if (!(cap > 0)) throw new ShapeError('softcap', `cap must be > 0, got ${cap}`);
  const e = x.engine;
  const y = e.empty(x.shape, 'f32', 'softcap.y');
  e.run({ op: 'softcap.forward', shader: 'softcap', entry: 'softcap_forward', inputs: [x], outputs: [y], params: [x.size, f32(cap)], workgroups: e.grid(x.size, 256) });
  e.tape.record({
    op: 'softcap',
    inputs: [x],
    outputs: [y],
    backward: ([dy]) => {
      const dx = e.empty(x.shape, 'f32', 'softcap.dx');
      e.run({ op: 'softcap.backward', shader: 'softcap', entry: 'softcap_backward', inputs: [dy!, y], outputs: [dx], params: [x.size, f32(cap)], workgroups: e.grid(x.size, 256) });
      return [dx];
    },
  });
  return y;
}
