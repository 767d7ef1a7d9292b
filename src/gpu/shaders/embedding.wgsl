// embedding.wgsl — placeholder, not yet written.
