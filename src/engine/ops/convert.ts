// toF32: widens a bf16 or f16 *storage* tensor (two 16-bit values per u32, element 2i in the low
// half of word i) to f32 on the GPU. 16-bit tensors hold frozen weights (base model shards), so
// there is no backward: a gradient reaching this op throws NoBackwardError instead of silently
// stopping. Decoding rules: gemma2-and-formats.md §3 "bfloat16"; IEEE-754 binary16 for f16.
// Shader: src/gpu/shaders/convert.wgsl. Host encoders: src/engine/util/halfs.ts; float64 decoders (the reference): src/engine/reference/convert.ts.

import { ShapeError } from '../errors.ts';
import type { Tensor } from '../tensor.ts';

/** f32 copy of a bf16/f16 storage tensor, same shape. No backward (frozen weights). */
export function toF32(x: Tensor): Tensor {
  if (x.dtype !== 'bf16' && x.dtype !== 'f16') {
    throw new ShapeError('toF32', `x must be a bf16 or f16 storage tensor, got ${x.describe()}`, x.dtype === 'f32' ? 'x is already f32: use it as it is' : 'i32/u32 tensors hold ids and masks, not 16-bit floats');
  }
  const e = x.engine;
  const y = e.empty(x.shape, 'f32', `toF32.y`);
  const words = Math.ceil(x.size / 2); // u32 words; the last one is half-filled for odd sizes
  if (words > 0) {
    e.run({ op: `toF32(${x.dtype})`, shader: 'convert', entry: x.dtype === 'bf16' ? 'bf16_to_f32' : 'f16_to_f32', inputs: [x], outputs: [y], params: [words], workgroups: e.grid(words, 256) });
  }
  // Recorded without a backward: if x ever requires a gradient, backward() throws NoBackwardError.
  e.tape.record({ op: `toF32(${x.dtype})`, inputs: [x], outputs: [y] });
  return y;
}
