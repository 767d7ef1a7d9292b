// attention.wgsl — placeholder, not yet written.
