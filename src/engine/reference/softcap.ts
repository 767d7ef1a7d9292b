// float64 reference: y = cap·tanh(x / cap).
export function softcapRef(x: Float64Array, cap: number): Float64Array {
  return x.map((v) => cap * Math.tanh(v / cap));
}
