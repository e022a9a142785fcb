"""The loops the execution paths run: forward-only fixed steps, reverse-differentiable
fixed steps, and hhjax's own adaptive loop."""
