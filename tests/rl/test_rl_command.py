"""`hhjax rl`: the command's output, bad input, kill -9 and resume; a short run of every
actor on each backend (slow)."""

import json
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("gymnasium")
pytest.importorskip("mujoco")

from hhjax.cli.main import main  # noqa: E402
from hhjax.rl import ACTORS  # noqa: E402
from hhjax.rl.experiment import RLExperiment, run_seed  # noqa: E402
from hhjax.rl.loop import CHECKPOINT_FILE, LoopConfig  # noqa: E402
from hhjax.rl.sac import SACConfig  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHORT = ["--env", "inverted-pendulum", "--steps", "300", "--start-steps", "150", "--hidden", "16",
         "--critic-hidden", "32", "--eval-every", "150", "--eval-episodes", "2", "--no-progress"]


def test_rl_command_writes_returns_curves_and_a_figure(tmp_path):
    out, fig = tmp_path / "rl.json", tmp_path / "rl.png"
    assert main(["rl", "--model", "ann", "--seeds", "1,2", *SHORT, "--noise", "state,reward", "--out", str(out),
                 "--figure", str(fig)]) == 0
    res = json.loads(out.read_text())
    runs = res["runs"]
    assert [r["seed"] for r in runs] == [1, 2] and all(r["steps"] == 300 for r in runs)
    finals = [r["final_return"] for r in runs]
    assert res["final_return"]["mean"] == pytest.approx(np.mean(finals))
    assert res["final_return"]["sd"] == pytest.approx(np.std(finals, ddof=1))
    for r in runs:  # the pendulum's standard reward is 1 per step of an episode of at most 1000
        assert len(r["final_returns"]) == 10 and all(1 <= x <= 1000 for x in r["final_returns"])
        assert [e[0] for e in r["evaluations"]] == [150, 300]
        assert sum(1 for _ in r["episode_returns"]) >= 1 and r["steps_per_second"] > 0
    assert res["experiment"]["noise"] == ["state", "reward"] and fig.stat().st_size > 10_000


@pytest.mark.parametrize("args, message", [
    (["--noise", "wind"], "unknown noise"),
    (["--resume"], "--resume needs --checkpoint"),
    (["--backend", "mujoco", "--num-envs", "4"], "one environment"),
    (["--steps", "0"], "steps >= 1"),
])
def test_rl_command_names_bad_input(tmp_path, capsys, args, message):
    assert main(["rl", "--model", "ann", *SHORT, *args, "--out", str(tmp_path / "x.json"), "--figure", ""]) == 2
    assert message in capsys.readouterr().err


def _cli(args):
    return subprocess.Popen([sys.executable, "-m", "hhjax.cli", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow
def test_rl_killed_with_sigkill_resumes_to_the_same_agent(tmp_path):
    common = ["rl", "--model", "ann", "--env", "inverted-pendulum", "--steps", "2500", "--start-steps", "500",
              "--eval-every", "0", "--checkpoint-every", "250", "--no-progress", "--figure", ""]
    ref = _cli(common + ["--out", str(tmp_path / "whole.json")])
    assert ref.wait() == 0, ref.stdout.read()
    ckpt = tmp_path / "ckpt"
    victim = _cli(common + ["--out", str(tmp_path / "resumed.json"), "--checkpoint", str(ckpt)])
    deadline = time.time() + 300
    while time.time() < deadline and victim.poll() is None and not (ckpt / "seed1" / CHECKPOINT_FILE).exists():
        time.sleep(0.02)
    time.sleep(1.0)  # past a checkpoint or two into learning
    assert victim.poll() is None, "the run finished before it could be killed"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert not (tmp_path / "resumed.json").exists()
    resumed = _cli(common + ["--out", str(tmp_path / "resumed.json"), "--checkpoint", str(ckpt), "--resume"])
    output = resumed.stdout.read()
    assert resumed.wait() == 0, output
    assert "resumed from step" in output
    a = json.loads((tmp_path / "whole.json").read_text())["runs"][0]
    b = json.loads((tmp_path / "resumed.json").read_text())["runs"][0]
    assert b["final_returns"] == a["final_returns"]
    assert b["episode_returns"] == a["episode_returns"]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["mujoco", "mjx"])
@pytest.mark.parametrize("model", ACTORS)
def test_every_actor_trains_briefly_on_each_backend(model, backend):
    if backend == "mjx":
        pytest.importorskip("mujoco.mjx")
    exp = RLExperiment(model=model, env="inverted-double-pendulum", backend=backend,
                       num_envs=4 if backend == "mjx" else 1, hidden=8, sac=SACConfig(batch=16, critic_hidden=16),
                       loop=LoopConfig(steps=64, start_steps=32, eval_every=32, eval_episodes=2), final_episodes=2)
    run, state = run_seed(exp, 0)
    assert run["steps"] == 64 and len(run["evaluations"]) == 2
    assert int(state.updates) == 32  # one update per environment step after the start
    assert all(np.isfinite(x) and x > 0 for x in run["final_returns"])
