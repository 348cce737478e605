"""Races: noise2stack side by side with peer tools (CAREamics 0.3.5) on one machine (see benchmarks/INDEX.md)."""
