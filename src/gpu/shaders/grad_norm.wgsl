// grad_norm.wgsl — placeholder, not yet written.
