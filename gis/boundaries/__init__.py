"""Boundaries: reading boundary-set files (read), validating them (validate), importing them
as a generation (importing), the generations (generations), locating a point (locate) and the
in-process assignment index of a generation (index)."""
