// reduce.wgsl — placeholder, not yet written.
