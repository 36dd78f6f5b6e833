"""The suite's error types: each names the cause in one message."""


class MobenchError(Exception):
    """Base class: user-facing errors the CLI prints as one line (no traceback)."""


class UnknownId(MobenchError, KeyError):
    def __str__(self):  # KeyError would print the repr with quotes
        return self.args[0]


class InvalidParameter(MobenchError, ValueError):
    pass


class UnsupportedPairing(MobenchError, ValueError):
    pass


class InvalidAction(MobenchError, ValueError):
    pass


class InvalidSolution(MobenchError, ValueError):
    pass


class CorruptStoreFile(MobenchError):
    pass
