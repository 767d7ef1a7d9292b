// Vocabulary tables: a [V, C] matrix (Gemma-2's tied embedding) held either as one tensor or,
// when V·C·4 bytes exceed what one storage binding may cover (maxStorageBufferBindingSize: 128 MiB
// on lavapipe, ≤ ~2 GiB on big GPUs; gemma-2-2b's table is 2.36 GB, spec gemma2-and-formats.md §6),
// as consecutive row parts [row0, row1) that together cover [0, V).
//
//   RowSplitTensor   the split form (built by the weight store's loader, store/load.ts, which
//                    re-exports these types; or by splitRowsFromHost below)
//   VocabTable       Tensor | RowSplitTensor: what embedding() and logprobs() take
//   checkTable       validates either form and returns V, C and the parts (a plain tensor is one
//                    part [0, V)), so an op loops over parts without special cases
//
// Every part is its own tensor: it can require a gradient and receives its own `.grad`, so an
// optimizer treats the parts as separate parameters. Concatenating the parts along dim 0 gives the
// full table.
// dtype: f32, or bf16/f16 storage for a frozen table (LoRA on a 16-bit base, issue 9): embedding()
// and logprobs() widen it in their loads. A 16-bit table (or part) never requires a gradient.
//
// Not here: the loader's split policy (store/load.ts makeDests).

import type { Engine } from './engine.ts';
import { ShapeError, fmtShape } from './errors.ts';
import { Tensor, type DType } from './tensor.ts';

/** Rows [row0, row1) of a split tensor, as one GPU tensor of shape [row1 - row0, ...rest]. */
export interface RowPart {
  row0: number;
  row1: number;
  tensor: Tensor;
}

/**
 * A tensor too large for one storage binding, held as consecutive row ranges. Concatenating the
 * parts' tensors along dim 0 gives the full tensor of `shape`.
 */
export interface RowSplitTensor {
  kind: 'row-split';
  name: string;
  shape: number[]; // the full shape
  dtype: DType; // of every part
  limitBytes: number; // the per-buffer limit that forced the split
  parts: RowPart[];
}

/** A [V, C] table (f32, or frozen bf16/f16): one tensor, or row parts covering [0, V) in order. */
export type VocabTable = Tensor | RowSplitTensor;

export function isRowSplit(t: Tensor | RowSplitTensor): t is RowSplitTensor {
  return !(t instanceof Tensor) && t.kind === 'row-split';
}

/** The parts of a table in row order; a plain tensor is the single part [0, V). */
export function tableParts(t: VocabTable): RowPart[] {
  return isRowSplit(t) ? t.parts : [{ row0: 0, row1: t.shape[0], tensor: t }];
}

/** "f32[V, C]" for a tensor, "f32[V, C] in N row parts" for a split table (for messages). */
export function describeTable(t: VocabTable): string {
  return isRowSplit(t) ? `${t.dtype}${fmtShape(t.shape)} in ${t.parts.length} row parts` : t.describe();
}

/**
 * The dtype rule of a table tensor: f32, or bf16/f16 when frozen (gradients are f32, so a 16-bit
 * table cannot receive one). Throws naming `what`.
 */
function checkTableDtype(op: string, what: string, t: Tensor): void {
  if (t.dtype !== 'f32' && t.dtype !== 'bf16' && t.dtype !== 'f16') throw new ShapeError(op, `${what} must be f32, bf16 or f16, got ${t.describe()}`);
  if (t.dtype !== 'f32' && t.requiresGrad) {
    throw new ShapeError(op, `${what} is ${t.describe()} and requires a gradient: a 16-bit table is a frozen weight`, 'set requiresGrad = false on it, or widen it with toF32() to train it in f32');
  }
}

/**
 * Checks that `t` is a [V, C] table (f32, or a frozen bf16/f16 one) whose parts are
 * [row1 − row0, C] tensors of one dtype covering [0, V) in order without gaps, and returns V, C
 * and the parts. Errors name `op` and the part.
 */
export function checkTable(op: string, name: string, t: VocabTable): { V: number; C: number; parts: RowPart[] } {
  if (!isRowSplit(t)) {
    checkTableDtype(op, name, t);
    if (t.rank !== 2) throw new ShapeError(op, `${name} must be [V, C], got ${fmtShape(t.shape)}`);
    return { V: t.shape[0], C: t.shape[1], parts: tableParts(t) };
  }
  if (t.shape.length !== 2) throw new ShapeError(op, `${name} must be [V, C], got a split table of shape ${fmtShape(t.shape)}`);
  const [V, C] = t.shape;
  if (t.parts.length === 0) throw new ShapeError(op, `${name} ${fmtShape(t.shape)} is split into 0 parts`);
  let next = 0; // the row the next part must start at
  t.parts.forEach((p, i) => {
    const where = `${name} part ${i} (rows [${p.row0}, ${p.row1}))`;
    if (p.row0 !== next || !(p.row1 > p.row0)) {
      throw new ShapeError(op, `${where} of ${describeTable(t)}: parts must cover [0, ${V}) in order, each at least one row; this one should start at row ${next}`);
    }
    checkTableDtype(op, where, p.tensor);
    if (p.tensor.dtype !== t.dtype) throw new ShapeError(op, `${where} is ${p.tensor.describe()}, but the table ${describeTable(t)} says ${t.dtype}: every part must have the table's dtype`);
    if (p.tensor.rank !== 2 || p.tensor.shape[0] !== p.row1 - p.row0 || p.tensor.shape[1] !== C) {
      throw new ShapeError(op, `${where} must have shape ${fmtShape([p.row1 - p.row0, C])}, got ${fmtShape(p.tensor.shape)}`);
    }
    next = p.row1;
  });
  if (next !== V) throw new ShapeError(op, `${name}: the parts of ${describeTable(t)} end at row ${next}, not at V = ${V}`);
  return { V, C, parts: t.parts };
}

/**
 * A split table from host data [V, C] (row-major), cut at `bounds` = [0, b1, …, V] (strictly
 * increasing). For tests and CPU-side loaders; the weight store splits while it streams.
 */
export function splitRowsFromHost(e: Engine, data: Float32Array, shape: readonly [number, number], bounds: readonly number[], opts: { requiresGrad?: boolean; name?: string } = {}): RowSplitTensor {
  const [V, C] = shape;
  const name = opts.name ?? 'table';
  if (data.length !== V * C) throw new ShapeError('splitRowsFromHost', `${data.length} values given for ${fmtShape(shape)}`);
  if (bounds.length < 2 || bounds[0] !== 0 || bounds[bounds.length - 1] !== V || bounds.some((b, i) => i > 0 && !(b > bounds[i - 1]))) {
    throw new ShapeError('splitRowsFromHost', `bounds [${bounds.join(', ')}] must rise strictly from 0 to V = ${V}`);
  }
  const parts: RowPart[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const [row0, row1] = [bounds[i], bounds[i + 1]];
    const tensor = e.tensor(data.subarray(row0 * C, row1 * C), [row1 - row0, C], { requiresGrad: opts.requiresGrad, label: `${name}[${row0}:${row1}]` });
    parts.push({ row0, row1, tensor });
  }
  const limitBytes = Math.max(...parts.map((p) => p.tensor.byteLength));
  return { kind: 'row-split', name, shape: [V, C], dtype: 'f32', limitBytes, parts };
}
