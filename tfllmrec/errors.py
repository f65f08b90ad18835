"""Error classes shared across tfllmrec. Each message says how to fix it."""


class TfllmrecError(Exception):
    """Base class of every error tfllmrec raises on purpose."""


class PresetError(TfllmrecError, ValueError):
    """An encoder preset name or folder that cannot be resolved or loaded."""


class MissingPackageError(TfllmrecError, ImportError):
    """An optional package that a requested feature needs is not installed."""


class HubUnreachableError(TfllmrecError, OSError):
    """A preset needs a model hub (Kaggle, Hugging Face) that is unreachable."""
