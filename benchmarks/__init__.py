"""The benchmark shelf: one package per question family, run as ``python -m benchmarks.<family>.<script>``.

- ``quality``: how well the package denoises and advises (budgets, defaults, channels, PN2V, fine-tuning,
  stitching, bad inputs, fuzzing);
- ``papers``: the papers' tables and claims on our data;
- ``speed``: where the time of a training step or a prediction goes, and what each lever buys;
- ``scale``: volumes larger than memory (chunked prediction, streamed training);
- ``races``: side by side against peer tools (CAREamics).

Shared code lives in :mod:`benchmarks.harness`; ``benchmarks/INDEX.md`` lists every result file.
"""
