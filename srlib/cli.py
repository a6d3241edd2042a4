"""What srlib's command lines share: one line per user error, exit code 2, no traceback.

``python -m srlib.train``, ``python -m srlib.evaluate`` and ``python -m srlib.data`` build
their parser with :func:`parser` and run with :func:`run`:

* a mistake of the user (a bad option, a missing file, bad data: the ``ValueError`` and
  ``OSError`` families, and whatever else the command names) prints one line
  ``error: ...`` on stderr and exits with code 2;
* any other exception is a bug in srlib and keeps its full traceback; ``--debug`` shows the
  traceback of user errors too;
* Ctrl-C prints ``interrupted`` and exits with 130.

Example (the end of a module)::

    if __name__ == "__main__":
        sys.exit(run(main))

This module imports only the standard library.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

__all__ = ["USER_ERRORS", "error_line", "nonnegative_int", "parser", "positive_float",
           "positive_int", "run"]

#: Exceptions that mean "the input is wrong", not "srlib is wrong".
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, FloatingPointError)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse prints usage + message; one line is enough
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def parser(prog: str, description: str) -> argparse.ArgumentParser:
    """An ``ArgumentParser`` whose ``--help`` shows every default and that has ``--debug``.

    Its usage errors print one line and exit with 2.
    """
    p = _Parser(prog=prog, description=description,
                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--debug", action="store_true",
                   help="show the full traceback of an error instead of one line")
    return p


def error_line(err: BaseException) -> str:
    """``error: <message>`` on one line (newlines of the message become spaces)."""
    text = " ".join(str(err).split()) or type(err).__name__
    return f"error: {text}"


def run(
    main: Callable[[list[str]], object], argv: Sequence[str] | None = None,
    user_errors: tuple[type[BaseException], ...] = (),
) -> int:
    """Call ``main(argv)``; return the exit code (an int ``main`` returns, else 0).

    A user error (:data:`USER_ERRORS` or ``user_errors``) prints :func:`error_line` on stderr
    and gives 2, unless ``--debug`` is among the arguments (then it is raised).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        code = main(argv)
    except (*USER_ERRORS, *user_errors) as err:
        if "--debug" in argv:
            raise
        print(error_line(err), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return code if isinstance(code, int) and not isinstance(code, bool) else 0


def _number(text: str, kind, ok, what: str):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return value


def positive_int(text: str) -> int:
    """argparse ``type``: an integer >= 1 (refuses ``-1``, ``0``, ``2.5``)."""
    return _number(text, int, lambda v: v >= 1, "a positive integer")


def nonnegative_int(text: str) -> int:
    """argparse ``type``: an integer >= 0."""
    return _number(text, int, lambda v: v >= 0, "an integer >= 0")


def positive_float(text: str) -> float:
    """argparse ``type``: a finite number > 0."""
    import math

    return _number(text, float, lambda v: v > 0 and math.isfinite(v), "a positive number")
