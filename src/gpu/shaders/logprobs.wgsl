// logprobs.wgsl — placeholder, not yet written.
