"""Speed: where the time of a training step or a prediction goes, and what each lever buys (see benchmarks/INDEX.md)."""
