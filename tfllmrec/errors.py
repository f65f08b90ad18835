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
