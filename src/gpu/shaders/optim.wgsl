// optim.wgsl — placeholder, not yet written.
