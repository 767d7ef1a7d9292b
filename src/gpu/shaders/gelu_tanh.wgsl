// gelu_tanh.wgsl — placeholder, not yet written.
