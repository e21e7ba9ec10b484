"""Command line: plan, build, test, diff."""

import sys


def main(argv: list[str] | None = None) -> int:
    print("otel-go-autoinst: not implemented yet", file=sys.stderr)
    return 2
