// matmul_naive.wgsl — placeholder, not yet written.
