"""The full network comparison (the same as `hhjax compare`): every model, 3 seeds, all noise
levels, cost and information, on the bundled two-digit data; about 20–25 minutes on 2 CPU cores.

    python benchmarks/networks_full.py --out comparison.json --figure comparison.png
"""

from hhjax.cli import main

if __name__ == "__main__":
    import sys

    raise SystemExit(main(["compare", *sys.argv[1:]], process_settings=True))
