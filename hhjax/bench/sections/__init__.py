"""The benchmark suite's sections, one module each."""
