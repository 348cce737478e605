"""Scale: volumes larger than memory, chunked prediction and streamed training (see benchmarks/INDEX.md)."""
