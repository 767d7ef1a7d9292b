// elementwise.wgsl — placeholder, not yet written.
