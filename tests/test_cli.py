"""Tests of srlib.cli (one line per user error, exit 2) and of the three command lines."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from srlib import cli


def _raiser(exc):
    def main(argv):
        raise exc

    return main


def test_user_errors_are_one_line_and_exit_2(capsys):
    assert cli.run(_raiser(ValueError("bad value:\n  fix it")), []) == 2
    assert capsys.readouterr().err == "error: bad value: fix it\n"
    assert cli.run(_raiser(FileNotFoundError("no such file x")), []) == 2
    assert cli.run(_raiser(EOFError()), [], user_errors=(EOFError,)) == 2
    assert capsys.readouterr().err.endswith("error: EOFError\n")


def test_bugs_keep_their_traceback_and_debug_shows_all():
    with pytest.raises(KeyError):
        cli.run(_raiser(KeyError("a bug")), [])
    with pytest.raises(ValueError):
        cli.run(_raiser(ValueError("user error")), ["--debug"])


def test_exit_codes(capsys):
    assert cli.run(lambda argv: 3, []) == 3
    assert cli.run(lambda argv: {"a": 1}, []) == 0
    assert cli.run(_raiser(KeyboardInterrupt()), []) == 130
    assert "interrupted" in capsys.readouterr().err


def test_parser_errors_are_one_line(capsys):
    p = cli.parser("prog", "test")
    p.add_argument("--n", type=cli.positive_int, default=1, help="a count")
    for bad in (["--n", "-1"], ["--n", "0"], ["--n", "2.5"], ["--what"]):
        with pytest.raises(SystemExit) as stop:
            p.parse_args(bad)
        assert stop.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("prog: error:"), err
    assert "(default: 1)" in p.format_help() and "--debug" in p.format_help()


@pytest.mark.parametrize("module", ["srlib.evaluate", "srlib.data"])
def test_command_lines_print_no_traceback_for_a_bad_cache(tmp_path, module):
    (tmp_path / "file").write_text("not a folder")
    env = {**os.environ, "SRLIB_CACHE": str(tmp_path / "file"), "OMP_NUM_THREADS": "1"}
    args = ["--dataset", "Set5", "--scale", "2"] if module == "srlib.evaluate" else ["Set5"]
    proc = subprocess.run([sys.executable, "-m", module, *args], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1
    assert "SRLIB_CACHE" in proc.stderr and "Traceback" not in proc.stderr
    if module == "srlib.evaluate":
        return                                       # --debug: once is enough
    proc = subprocess.run([sys.executable, "-m", module, *args, "--debug"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 1 and "Traceback" in proc.stderr
