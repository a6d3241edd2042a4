"""The Slurm scripts of ``scripts/slurm/``, run by bash with stand-ins for srun and friends.

There is no Slurm here (nor in CI): ``srun`` is replaced by a script that runs its command
on this machine, ``scontrol`` by one that names a node and records ``requeue``, and
``torchrun`` by one that records its arguments.  The tests check that each script is valid
bash, stages T91, starts torchrun as intended and passes ``srlib.train`` options that its
own parser accepts (with ``--resume``, so a requeued job continues), and that USR1 (sent by
Slurm 120 s before the time limit) requeues the job.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from srlib.train import _parser

SLURM = Path(__file__).resolve().parents[1] / "scripts" / "slurm"
FAKES = {
    "srun": '#!/bin/bash\nwhile [[ "$1" == --* ]]; do shift; done\nexec "$@"\n',
    "scontrol": '#!/bin/bash\nif [ "$1" = show ]; then echo node7; echo node8; '
                'else echo "$@" >> "$FAKE_LOG/scontrol"; fi\n',
    "torchrun": '#!/bin/bash\nprintf "%s\\n" "$@" > "$FAKE_LOG/torchrun"\n'
                'sleep "${FAKE_SLEEP:-0}"\n',
}


def _start(script: str, tmp_path: Path, **env) -> subprocess.Popen:
    bin_dir, log = tmp_path / "bin", tmp_path / "log"
    bin_dir.mkdir()
    log.mkdir()
    for name, text in FAKES.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "PYTHON": sys.executable, "FAKE_LOG": str(log), "SLURM_JOB_ID": "42",
           "SLURM_GPUS_ON_NODE": "4", "SLURM_CPUS_PER_TASK": "16", "SLURM_NNODES": "2",
           "SLURM_JOB_NODELIST": "node[7-8]", "SLURM_TMPDIR": str(tmp_path / "local"),
           "PYTHONPATH": os.pathsep.join([str(SLURM.parents[1]),
                                          os.environ.get("PYTHONPATH", "")]), **env}
    (tmp_path / "local").mkdir()
    return subprocess.Popen(["bash", str(SLURM / script)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _torchrun_args(tmp_path: Path) -> tuple[list[str], object]:
    args = (tmp_path / "log" / "torchrun").read_text().splitlines()
    i = args.index("-m")
    assert args[i + 1] == "srlib.train", args
    return args[:i], _parser().parse_args(args[i + 2:])


@pytest.mark.parametrize("script", ["train_1node.sbatch", "train_2nodes.sbatch"])
def test_script_stages_t91_and_starts_torchrun(script, tmp_path):
    assert subprocess.run(["bash", "-n", str(SLURM / script)]).returncode == 0
    text = (SLURM / script).read_text()
    assert "#SBATCH --signal=B:USR1@120" in text and "#SBATCH --gpus-per-node=" in text
    proc = _start(script, tmp_path)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, out + err
    launcher, a = _torchrun_args(tmp_path)
    assert "--nproc-per-node=4" in launcher and "--max-restarts=1" in launcher
    if script == "train_1node.sbatch":
        assert "--standalone" in launcher
    else:
        assert {"--nnodes=2", "--rdzv-backend=c10d", "--rdzv-endpoint=node7:29500",
                "--rdzv-id=42"} <= set(launcher), launcher
    assert a.resume and a.threads == 4 and a.batch_size % 8 == 0   # divisible on 2 x 4 GPUs
    data = Path(a.data)
    assert data.parent == tmp_path / "local"                        # the node's local disk
    assert len(list(data.glob("*.png"))) == 91


def test_usr1_requeues_the_job(tmp_path):
    proc = _start("train_1node.sbatch", tmp_path, FAKE_SLEEP="5")
    deadline = time.monotonic() + 60
    while not (tmp_path / "log" / "torchrun").exists():
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGUSR1)          # what Slurm does 120 s before the limit
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    assert (tmp_path / "log" / "scontrol").read_text() == "requeue 42\n"
    assert "requeueing job 42" in out
