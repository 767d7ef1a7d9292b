// Central finite differences in float64: the independent check of every backward kernel.
// For f: inputs → outputs and a fixed upstream gradient dy (one array per output), returns
// ∂/∂x_i of L(x) = Σ_k Σ_j dy_k[j]·f_k(x)[j] for every element of every input listed in `wrt`.

export type RefFn = (inputs: Float64Array[]) => Float64Array[];

export function numericGrads(f: RefFn, inputs: Float64Array[], dy: Float64Array[], wrt: number[], h = 1e-5): Float64Array[] {
  const loss = (xs: Float64Array[]): number => {
    const outs = f(xs);
    let s = 0;
    outs.forEach((o, k) => {
      const d = dy[k];
      if (!d) return;
      for (let j = 0; j < o.length; j++) s += d[j] * o[j];
    });
    return s;
  };
  return wrt.map((i) => {
    const x = inputs[i];
    const g = new Float64Array(x.length);
    for (let j = 0; j < x.length; j++) {
      const orig = x[j];
      x[j] = orig + h;
      const up = loss(inputs);
      x[j] = orig - h;
      const down = loss(inputs);
      x[j] = orig;
      g[j] = (up - down) / (2 * h);
    }
    return g;
  });
}
