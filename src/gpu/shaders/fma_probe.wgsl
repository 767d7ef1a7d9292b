// fma_probe.wgsl — placeholder, not yet written.
