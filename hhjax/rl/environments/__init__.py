"""Control tasks for the SAC loop behind one interface: gymnasium + MuJoCo on the host
(`mujoco`, default) or MuJoCo XLA (`mjx`, batched, for accelerators)."""

from .base import BACKENDS, Environment, Step, make_environment
from .tasks import TASKS, Task, get_task

__all__ = ["BACKENDS", "Environment", "Step", "make_environment", "TASKS", "Task", "get_task"]
