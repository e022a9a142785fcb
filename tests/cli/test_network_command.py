"""`hhjax network`: the JSON a user gets from the default settings at a small size."""

import json

import pytest

from hhjax.cli.main import main


def test_network_command_writes_the_statistics(tmp_path):
    out, fig = tmp_path / "cuba.json", tmp_path / "cuba.png"
    assert main(["network", "cuba", "--n", "400", "--t1", "200", "--seed", "1", "--out", str(out),
                 "--figure", str(fig)]) == 0
    d = json.loads(out.read_text())
    for key in ("rate_hz", "cv_isi", "n_spikes", "wall_s", "compile_s"):
        assert key in d
    assert d["n_spikes"] > 0 and abs(d["rate_hz"] - d["n_spikes"] / 400 / 0.2) < 1e-9
    assert fig.stat().st_size > 10_000


def test_network_command_rejects_bad_input(capsys):
    with pytest.raises(SystemExit):
        main(["network", "cobahh", "--n", "0", "--figure", ""])
    assert "--n must be >= 1" in capsys.readouterr().err
    assert main(["network", "cuba", "--n", "100", "--t1", "10", "--dt", "0.3", "--figure", ""]) == 2
    assert "not a whole number of steps" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["network", "cuba", "--n", "100", "--t1", "10"], ["bench", "--only", "network"],
                                     ["rl", "--steps", "100"]])
def test_an_output_path_that_cannot_be_written_stops_before_the_run(command, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main([*command, "--out", str(tmp_path)])  # (a folder: found before a run of minutes, not after)
    assert "is a directory" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*command, "--out", str(tmp_path / "missing" / "x.json")])
    assert "does not exist" in capsys.readouterr().err
