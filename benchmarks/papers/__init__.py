"""Papers: the tables and claims of the Noise2Stack, Noise2SR and NRRN papers on our data (see benchmarks/INDEX.md)."""
