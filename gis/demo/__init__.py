"""Demo and synthetic data: the Anda demo (boundaries, incidents, lifecycle history, coverage
set) loaded through the ordinary imports, and synthetic plans for tests and the benchmark."""
