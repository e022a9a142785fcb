"""The benchmark suite as a script (the same as `hhjax bench`; see `hhjax bench --help`).

    python benchmarks/bench_suite.py --full --out bench_full.json --plot bench_full.png
"""

from hhjax.cli import main

if __name__ == "__main__":
    import sys

    raise SystemExit(main(["bench", *sys.argv[1:]], process_settings=True))
