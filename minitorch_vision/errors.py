"""The one error type a lesson turns into a one-line message and exit status 2 (no traceback)."""


class MTVError(Exception):
    """A problem the user can fix (a missing or corrupt file, bad input). ``str(err)`` is one line."""

    exit_code = 2


class DataUnavailable(MTVError):
    """A dataset or weights file is missing, corrupt or cannot be downloaded."""
