// rope.wgsl — placeholder, not yet written.
