"""Error classes shared across tfllmrec. Each message says how to fix it."""


class TfllmrecError(Exception):
    """Base class of every error tfllmrec raises on purpose."""


class PresetError(TfllmrecError, ValueError):
    """An encoder preset name or folder that cannot be resolved or loaded."""


class MissingPackageError(TfllmrecError, ImportError):
    """An optional package that a requested feature needs is not installed."""


class HubUnreachableError(TfllmrecError, OSError):
    """A preset needs a model hub (Kaggle, Hugging Face) that is unreachable."""


class DataError(TfllmrecError, ValueError):
    """Malformed or inconsistent data. The message names the file, the row or
    line, and the column where it can, and says how to fix it."""


class ConfigError(TfllmrecError, ValueError):
    """An invalid recipe configuration: unknown key, wrong type, bad value."""


class RunFolderError(ConfigError):
    """A run folder that is not a finished, intact run: a file is missing or
    unreadable, or its checkpoint is truncated or corrupt. The message names
    the folder and the file, and says to restore the folder or retrain.

    A ConfigError, as the run folder is part of what a command is given (and
    `except ConfigError` around `TrainedRun` keeps working)."""


class RangeError(ConfigError):
    """A number outside its valid range: an argument, an option or a config
    value. The message names it, the range and the fix; `name`, `value` and
    `rule` (a `tfllmrec.ranges.Range`) say the same for code that re-names
    it (a config key, a command-line option).

    A ConfigError, hence a ValueError, as a bad value of a Python argument
    has always been."""

    def __init__(self, message, name=None, value=None, rule=None):
        super().__init__(message)
        self.name, self.value, self.rule = name, value, rule


class PathError(TfllmrecError, FileNotFoundError):
    """A path that does not exist, or is a file where a folder is wanted (or
    the other way round). The message names the path and the fix.

    A FileNotFoundError, so `except FileNotFoundError` around a call that
    used to raise one keeps working."""
