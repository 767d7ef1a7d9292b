// matmul_tiled.wgsl — placeholder, not yet written.
