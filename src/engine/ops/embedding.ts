// embedding: out[..., :] = table[ids[...], :] · scale  (spec gemma2-and-formats.md §1.4 step 1, §1.5).
// table [V, C] f32, or a frozen bf16/f16 table widened in the gather (no gradient); ids i32 [T] or [B, T], given as a host Int32Array (uploaded here) or as a GPU
// tensor together with its host copy. `scale` is Gemma's √C normaliser folded into the gather
// (pass it already rounded to the activation dtype, spec §1.4; default 1).
// Backward: dTable[v] = scale · Σ_{t: ids[t] = v} dy[t], a scatter-add done without atomics: the
// host builds a CSR of the ids (unique ids, segment starts, tokens grouped by id) and one
// workgroup per unique id sums its rows in ascending token order; untouched rows are 0.
// The ids are never read back from the GPU, so training the table requires host ids.
// A table (part) that is a leaf gets its gradient added straight into its `.grad` (tape.ts
// leafGradTarget): the tied embedding's two backward contributions (this scatter and logprobs' dE)
// share one [V, C] buffer; other tables get a fresh zeroed gradient returned to the tape.
// Split tables (engine/table.ts; a table over one storage binding, e.g. gemma-2-2b's 2.36 GB one):
// one gather dispatch per row part, each writing the output rows whose id falls in its rows; the
// backward slices the one CSR by part (its unique ids are sorted) and returns each part's gradient.
// Shader: src/gpu/shaders/embedding.wgsl. Reference: src/engine/reference/embedding.ts.

import { f32 } from '../engine.ts';
import { ShapeError, fmtShape } from '../errors.ts';
import { checkTable, describeTable, type VocabTable } from '../table.ts';
import { leafGradTarget } from '../tape.ts';
import type { Tensor } from '../tensor.ts';
import { weightVariant } from './matmul.ts';
import { expectDtype } from './util.ts';

export interface EmbeddingOptions {
  /** Shape of host ids ([T] or [B, T]); default [ids.length]. For tensor ids their own shape is used. */
  shape?: number[];
  /** Host copy of tensor ids: needed to validate them and to train the table (the CSR is built from it). */
  hostIds?: Int32Array;
  /** Multiplier folded into the gather and its backward (Gemma-2: √C rounded to the activation dtype). */
  scale?: number;
}

/**
 * Gathers rows of table [V, C] (one tensor or row parts) for ids ([T] or [B, T], host Int32Array or
 * i32 tensor) → [..., C], times scale.
 */
export function embedding(table: VocabTable, ids: Tensor | Int32Array, opts: EmbeddingOptions = {}): Tensor {
  const { V, C, parts } = checkTable('embedding', 'table', table);
  const tensors = parts.map((p) => p.tensor);
  const scale = opts.scale ?? 1;
  if (!Number.isFinite(scale)) throw new ShapeError('embedding', `scale must be finite, got ${scale}`);
  const e = tensors[0].engine;

  // ids: shape and (when available) the host copy used for validation and the backward's CSR.
  let idsShape: number[];
  let host: Int32Array | null;
  if (ids instanceof Int32Array) {
    idsShape = opts.shape ?? [ids.length];
    host = ids;
  } else {
    expectDtype('embedding', 'ids', ids, 'i32');
    idsShape = [...ids.shape];
    host = opts.hostIds ?? null;
    if (host && host.length !== ids.size) {
      throw new ShapeError('embedding', `hostIds has ${host.length} values but the ids tensor is ${ids.describe()} (${ids.size} values)`);
    }
  }
  if (idsShape.length < 1 || idsShape.length > 2) throw new ShapeError('embedding', `ids must be [T] or [B, T], got ${fmtShape(idsShape)}`);
  const T = idsShape.reduce((a, b) => a * b, 1); // tokens (batch flattened)
  if (host && host.length !== T) throw new ShapeError('embedding', `${host.length} ids given for shape ${fmtShape(idsShape)} (${T} tokens)`);
  if (host) validateIds(host, idsShape, V);
  const trains = e.tape.enabled && tensors.some((t) => t.requiresGrad);
  if (trains && !host) {
    throw new ShapeError(
      'embedding',
      `the table ${describeTable(table)} requires a gradient but the ids ${fmtShape(idsShape)} are only on the GPU`,
      'pass the ids as a host Int32Array, or the tensor plus opts.hostIds (the backward builds its scatter plan on the host)',
    );
  }

  // Forward: one invocation per output element, one dispatch per part; a part writes the rows
  // whose id is in [row0, row1), so together they write every row once.
  const idsGpu = ids instanceof Int32Array ? e.tensor(ids, idsShape, { dtype: 'i32', label: 'embedding.ids' }) : ids;
  const out = e.empty([...idsShape, C], 'f32', 'embedding.out'); // [..., C]
  if (out.size > 0) {
    for (const p of parts) {
      e.run({
        op: 'embedding.forward',
        shader: 'embedding',
        entry: 'embedding_forward',
        inputs: [idsGpu, p.tensor],
        outputs: [out],
        params: [out.size, C, V, f32(scale), 0, p.row0, p.row1, 0, 0, 0],
        workgroups: e.grid(out.size, 256),
        variant: weightVariant(e, p.tensor), // the table's loads (f32, or widened bf16/f16)
      });
    }
  }
  if (idsGpu !== ids) idsGpu.dispose();

  // Keep a private copy: the caller may reuse its array before the backward runs.
  const saved = trains ? Int32Array.from(host!) : null;
  e.tape.record({
    op: 'embedding',
    inputs: tensors,
    outputs: [out],
    backward: ([dy]) => {
      // Per part: its leaf .grad to add into, or a fresh zeroed gradient returned to the tape (null
      // for parts that need none); rows no token touched are left as they are.
      const targets = parts.map((p) => leafGradTarget(e, p.tensor));
      const dParts = parts.map((p, i) => (p.tensor.requiresGrad && !targets[i] ? e.zeros(p.tensor.shape, 'embedding.dTable') : null));
      const ids = saved!;
      if (ids.length === 0 || C === 0) return dParts;
      const csr = buildCsr(ids);
      const U = csr.unique;
      const csrGpu = e.tensor(csr.data, [csr.data.length], { dtype: 'u32', label: 'embedding.csr' });
      // uniq = csr.data[0 .. U) is ascending: part i owns the unique ids [u0, u1) in its rows.
      let u0 = 0;
      parts.forEach((p, i) => {
        let u1 = u0;
        while (u1 < U && csr.data[u1] < p.row1) u1++;
        const dPart = targets[i] ?? dParts[i];
        if (dPart && u1 > u0) {
          e.run({
            op: 'embedding.backward',
            shader: 'embedding',
            entry: 'embedding_backward',
            inputs: [dy!, csrGpu],
            outputs: [dPart],
            params: [u1 - u0, C, V, f32(scale), 2 * U + 1, p.row0, p.row1, u0, U, targets[i] ? 1 : 0],
            workgroups: e.grid(u1 - u0, 1),
            overrides: { WG: C >= 4096 ? 256 : 64 },
          });
        }
        u0 = u1;
      });
      csrGpu.dispose();
      return dParts;
    },
  });
  return out;
}

/** Throws a ShapeError naming the first id outside [0, V), with its position. */
function validateIds(ids: Int32Array, shape: number[], V: number): void {
  for (let k = 0; k < ids.length; k++) {
    const v = ids[k];
    if (v < 0 || v >= V) {
      const where = shape.length === 2 ? `[${Math.floor(k / shape[1])}, ${k % shape[1]}]` : `[${k}]`;
      throw new ShapeError('embedding', `ids${where} = ${v} is outside the table's rows [0, ${V})`, 'check that the tokenizer matches the checkpoint (vocabulary size V) and that padding ids are valid tokens');
    }
  }
}

/**
 * The CSR scatter plan, packed in one u32 array [uniq (U) | start (U + 1) | order (T)]:
 * uniq ascending; tokens of uniq[u] are order[start[u] .. start[u+1]) in ascending token order.
 */
export function buildCsr(ids: Int32Array): { unique: number; data: Uint32Array } {
  const T = ids.length;
  // Tokens sorted by (id, token): a stable order, so the GPU sums each row in a fixed order.
  const order = new Uint32Array(T);
  for (let t = 0; t < T; t++) order[t] = t;
  order.sort((a, b) => ids[a] - ids[b] || a - b);
  let U = 0;
  for (let s = 0; s < T; s++) if (s === 0 || ids[order[s]] !== ids[order[s - 1]]) U++;
  const data = new Uint32Array(2 * U + 1 + T);
  let u = 0;
  for (let s = 0; s < T; s++) {
    if (s === 0 || ids[order[s]] !== ids[order[s - 1]]) {
      data[u] = ids[order[s]]; // uniq[u]
      data[U + u] = s; // start[u]
      u++;
    }
  }
  data[U + U] = T; // start[U]: end of the last segment
  data.set(order, 2 * U + 1);
  return { unique: U, data };
}
