"""The exceptions a user mistake raises: the CLI prints the message as one sentence and exits.

Exit statuses (the CLI's --help shows the same table):

    0    success
    1    the go command's own status for the same input: no go.mod, a package that does not load,
         a Go syntax error (GoError); a failed `go build` / `go test` passes its status through
    2    otel-go-autoinst's own errors: usage (an unknown command or flag, a flag without its
         value), rule files, hooks that do not match their targets, a report path that cannot be
         written (UserError); also what the go command exits with for a flag it rejects
    130  interrupted
"""

EXIT_GO = 1
EXIT_OURS = 2
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """Bad input of ours (usage, broken rule YAML, a hook that does not match...): not a bug."""

    def __init__(self, message: str, exit_code: int = EXIT_OURS) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class GoError(UserError):
    """An error the go command reports itself for the same input (no go.mod, a package that does
    not load, a syntax error): the CLI exits with go's status, 1 unless given."""

    def __init__(self, message: str, exit_code: int = EXIT_GO) -> None:
        super().__init__(message, exit_code)
