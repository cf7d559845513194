"""imgedit side by side with a hand-written httpx script and the official openai SDK.

Run from the repository root: ``python -m benchmarks [--quick] [--out DIR]``. Every contender
runs as its own process against the loopback emulator (itself a separate process), interleaved
round-robin, and the result is a Markdown and a JSON table of medians, spreads, ratios and
budgets. See benchmarks/README.md and docs/performance.md.
"""
