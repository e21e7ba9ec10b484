"""The one exception a user mistake raises: the CLI prints its message as one sentence and exits."""


class UserError(Exception):
    """Bad input (no go.mod, broken rule YAML, a hook that does not match...): not a bug of ours."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code
