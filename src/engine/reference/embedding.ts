// float64 reference for the token embedding (spec gemma2-and-formats.md §1.4 step 1), plain loops:
//   out[t, c] = table[ids[t], c] · scale        table [V, C] row-major, ids one integer per token
export function embeddingRef(table: Float64Array, ids: ArrayLike<number>, C: number, scale = 1): Float64Array {
  const V = table.length / C;
  const out = new Float64Array(ids.length * C);
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t];
    if (!(Number.isInteger(id) && id >= 0 && id < V)) throw new RangeError(`embeddingRef: ids[${t}] = ${id} outside [0, ${V})`);
    for (let c = 0; c < C; c++) out[t * C + c] = table[id * C + c] * scale;
  }
  return out;
}
