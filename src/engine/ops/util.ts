// Shape and dtype checks shared by the ops. Messages name the op and state the shapes.
import { ShapeError, fmtShape } from '../errors.ts';
import type { DType, Tensor } from '../tensor.ts';

export function expectDtype(op: string, name: string, t: Tensor, ...dtypes: DType[]): void {
  if (!dtypes.includes(t.dtype)) {
    throw new ShapeError(op, `${name} must be ${dtypes.join(' or ')}, got ${t.describe()}`, t.dtype === 'bf16' || t.dtype === 'f16' ? 'convert 16-bit storage to f32 first with toF32()' : undefined);
  }
}

export function expectShape(op: string, name: string, t: Tensor, shape: readonly number[]): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new ShapeError(op, `${name} must have shape ${fmtShape(shape)}, got ${fmtShape(t.shape)}`);
  }
}

export function expectRank(op: string, name: string, t: Tensor, ...ranks: number[]): void {
  if (!ranks.includes(t.rank)) throw new ShapeError(op, `${name} must have rank ${ranks.join(' or ')}, got ${fmtShape(t.shape)}`);
}

/** Product of all but the last dimension (the "rows" of a row-wise op). */
export function rowsOf(t: Tensor): number {
  return t.shape.length === 0 ? 1 : t.size / t.shape[t.shape.length - 1];
}
