"""The one exception type for mistakes a user can fix: the CLI prints its message and exits 2."""


class UserError(Exception):
    """A bad config key, a missing file, a corrupt example: says what and where, no traceback."""
