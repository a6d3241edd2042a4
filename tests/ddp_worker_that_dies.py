"""``python -m srlib.train`` whose rank 1 dies once: the restart test's torchrun worker.

Not a test file (pytest does not collect it); ``tests/test_distributed.py`` starts it with
``torchrun --max-restarts=1``.  Rank 1 ends with ``os._exit(1)`` (no clean-up, like a crash)
right after rank 0 has written epoch ``$SRLIB_TEST_DIE_AFTER`` (checkpoint and log) and told
the other ranks so; the file ``$SRLIB_TEST_DIE_MARKER`` is created first, so the group that
torchrun restarts does not die again.  The hook wraps
:func:`srlib.distributed.broadcast_object`, which :func:`srlib.distributed.on_main` uses to
report the end of rank 0's writes; srlib itself has no test hook.
"""

import os
import sys
from pathlib import Path

import srlib.distributed as distributed
from srlib import cli
from srlib.train import _command

MARKER = Path(os.environ["SRLIB_TEST_DIE_MARKER"])
AFTER = int(os.environ["SRLIB_TEST_DIE_AFTER"])
LOG = Path(os.environ["SRLIB_TEST_DIE_LOG"])
_real_broadcast = distributed.broadcast_object


def _broadcast_then_maybe_die(obj, src=0):
    value = _real_broadcast(obj, src)
    rows = len(LOG.read_text().splitlines()) - 1 if LOG.is_file() else 0   # minus the header
    if distributed.world()[0] == 1 and rows >= AFTER and not MARKER.exists():
        MARKER.write_text(f"rank 1 died after epoch {rows}\n")
        os._exit(1)
    return value


distributed.broadcast_object = _broadcast_then_maybe_die

if __name__ == "__main__":
    sys.exit(cli.run(_command))
