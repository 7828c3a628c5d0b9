"""Pure, typed transforms of newswire items and the thin Beam wrappers around them."""
