// convert.wgsl — placeholder, not yet written.
