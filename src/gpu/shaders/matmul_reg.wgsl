// matmul_reg.wgsl — placeholder, not yet written.
