"""Quality: how well the package denoises and advises at a budget (see benchmarks/INDEX.md)."""
