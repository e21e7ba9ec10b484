"""The container's entry: `otel-go-autoinst action [MODE] [--report FILE]... [--pr-number N]`.

Reads the inputs and the event GitHub gives a Docker action (`INPUT_*`, `GITHUB_EVENT_PATH`,
`GITHUB_WORKSPACE`, `GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY`, ...) and runs one mode:
`run` (entrypoint/run.py), `comment` (comment.py), `matrix` (matrix.py), `merge` (merge.py).
A user's mistake is one sentence and exit 2, a bug of ours one line and exit 3, never a traceback
on stderr. The token is never printed and never reaches the processes that run the user's code.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Mapping, Sequence

from entrypoint.comment import mode_comment
from entrypoint.context import MODES, Context, Inputs
from entrypoint.matrix import mode_matrix
from entrypoint.merge import mode_merge
from entrypoint.run import mode_run
from otel_go_autoinst.errors import UserError
from otel_go_autoinst.publish.workflow import Log, visible


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="otel-go-autoinst action",
        description="GitHub Action entrypoint; inputs come from INPUT_* variables.",
    )
    parser.add_argument("mode", nargs="?", choices=MODES, help="overrides input `mode`")
    parser.add_argument(
        "--report", action="append", metavar="FILE", help="overrides input `report` (repeatable)"
    )
    parser.add_argument("--pr-number", metavar="N", help="overrides input `pr_number`")
    return parser.parse_args(list(argv))


def quiet_library_logs() -> None:
    """PyGithub and the comment module log what this entrypoint already reports (for example
    the 403 of GET /user for the workflow's token): keep only their errors."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    for name in ("github", "urllib3", "otel_go_autoinst.publish"):
        logging.getLogger(name).setLevel(logging.ERROR)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    log = Log()
    quiet_library_logs()
    environ = dict(os.environ if env is None else env)
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int) else 2
    try:
        inputs = Inputs.from_env(environ)
        if args.report:
            inputs.values["report"] = "\n".join(args.report)
        if args.pr_number:
            inputs.values["pr_number"] = args.pr_number.strip()
        mode = args.mode or inputs["mode"]
        if mode not in MODES:
            raise UserError(f"Input `mode` must be one of {', '.join(MODES)}, not {mode!r}.")
        ctx = Context.from_env(environ, inputs)
        modes = {
            "run": mode_run,
            "comment": mode_comment,
            "matrix": mode_matrix,
            "merge": mode_merge,
        }
        return modes[mode](ctx, inputs, log)
    except UserError as exc:
        log.error(str(exc))
        print(f"otel-go-autoinst: {visible(str(exc))}", file=sys.stderr, flush=True)
        return exc.exit_code or 2
    except KeyboardInterrupt:
        print("otel-go-autoinst: interrupted.", file=sys.stderr, flush=True)
        return 130
    except Exception as exc:  # a bug of ours: say so in one line, details folded in the log
        log.error(
            f"otel-go-autoinst action failed unexpectedly ({type(exc).__name__}); "
            "please report it with the log."
        )
        with log.group("Details"):
            log.line(traceback.format_exc())
        return 3
