// rmsnorm.wgsl — placeholder, not yet written.
