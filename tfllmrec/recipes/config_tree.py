"""Typed, frozen recipe configs: build from dicts/YAML, override with `a.b=value`.

A config is a frozen dataclass whose fields are scalars, tuples, dicts or
nested config dataclasses. These helpers are the only way configs are read,
so every unknown key and wrong type gets the same clear error.
"""

import dataclasses
import difflib
import typing

import yaml

from tfllmrec.errors import ConfigError, RangeError

_NONE = type(None)


def to_dict(config):
    """A config as plain nested dicts/lists (YAML- and JSON-ready)."""
    out = {}
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            value = to_dict(value)
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, dict):
            value = dict(value)
        out[field.name] = value
    return out


def to_yaml(config):
    """The config as a YAML document."""
    return yaml.safe_dump(to_dict(config), sort_keys=False)


def from_dict(cls, data, where=""):
    """Builds config class `cls` from a nested dict, checking keys and types.

    Args:
        cls: a config dataclass type.
        data: dict. Missing keys keep their defaults.
        where: str. Dotted prefix for error messages.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'} must be a mapping, got {type(data).__name__}.")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields), key=str)
    if unknown:
        raise ConfigError(
            f"Unknown config key{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(_join(where, k)) for k in unknown)}.{_did_you_mean(unknown[0], fields, where)} "
            f"Valid keys{' under ' + repr(where) if where else ''}: {', '.join(sorted(fields))}."
        )
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in data.items():
        values[name] = _coerce(hints[name], value, _join(where, name))
    try:
        return cls(**values)
    except RangeError as e:
        raise _renamed(e, where) from None
    except (TypeError, ValueError) as e:
        raise ConfigError(f"Invalid {where or 'config'}: {e}") from e


def _renamed(error, where):
    """A RangeError of a config's `__post_init__`, naming the whole key and the config's fix."""
    key = _join(where, error.name)
    if error.rule is None:  # a message that starts with the name
        return RangeError(_join(where, str(error)), key, error.value)
    example = error.rule.example
    fix = f"e.g. `--set {key}={example}`, or `{key.rsplit('.', 1)[-1]}: {example}` in a YAML recipe"
    return error.rule.error(key, error.value, fix)


def with_overrides(config, overrides):
    """Returns a copy of `config` with `["a.b=value", ...]` applied.

    Values are parsed as YAML scalars/lists (`3`, `0.1`, `true`, `[1, 2]`).
    """
    data = to_dict(config)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"Override {item!r} is not of the form key.path=value. Fix: e.g. "
                              "`--set train.epochs=3`.")
        key, raw = item.split("=", 1)
        path = key.strip().split(".")
        node = data
        for i, part in enumerate(path[:-1]):
            if not isinstance(node.get(part), dict):
                sections = [k for k, v in node.items() if isinstance(v, dict)]
                raise ConfigError(
                    f"Override {key!r}: {'.'.join(path[: i + 1])!r} is not a config "
                    f"section.{_did_you_mean(part, sections, '.'.join(path[:i]))} "
                    f"Sections: {', '.join(sections)}."
                )
            node = node[part]
        if path[-1] not in node:
            section = ".".join(path[:-1])
            raise ConfigError(
                f"Unknown config key {key!r}.{_did_you_mean(path[-1], node, section)} "
                f"Valid keys{' under ' + repr(section) if section else ''}: "
                f"{', '.join(sorted(node))}."
            )
        try:
            node[path[-1]] = yaml.safe_load(raw)
        except yaml.YAMLError as e:
            raise ConfigError(f"Override {item!r}: cannot parse the value: {e}") from e
    return from_dict(type(config), data)


def read_yaml_mapping(path):
    """The YAML file at `path` as a dict; ConfigError if unreadable or not a mapping."""
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as e:
        raise ConfigError(
            f"Cannot read config file {path}: it is not valid YAML: {e}. Fix: correct "
            "the YAML at the line and column shown (close every bracket and quote, "
            "indent with spaces, write `key: value`)."
        ) from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(
            f"Cannot read config file {path}: {e}. Fix: check the path, and save "
            "the file as UTF-8 text."
        ) from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"Config file {path} must hold a mapping of sections (name:, data:, "
            f"model:, ...), not a {type(data).__name__}."
        )
    return data


def merge_yaml(config, path):
    """Returns `config` updated with the (possibly partial) YAML file at `path`."""
    data = read_yaml_mapping(path)
    base = to_dict(config)
    _deep_update(base, data, str(path))
    try:
        return from_dict(type(config), base)
    except ConfigError as e:
        # Name the file: the key or value to fix is in it.
        raise ConfigError(f"{path}: {e}") from e


def _deep_update(base, data, where):
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}.")
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict) and key in base:
            _deep_update(base[key], value, f"{where}:{key}")
        else:
            base[key] = value


def _did_you_mean(name, options, where=""):
    found = difflib.get_close_matches(str(name), [str(o) for o in options], n=1, cutoff=0.6)
    return f" Did you mean {_join(where, found[0])!r}?" if found else ""


_EXAMPLES = {int: ("an integer", "3"), float: ("a number", "0.1"),
             str: ("a string", "text"), bool: ("true or false", "true")}


def _wrong_type(where, hint, value):
    noun, example = _EXAMPLES.get(hint, (f"of type {getattr(hint, '__name__', hint)}", None))
    fix = ""
    if example is not None:
        leaf = where.rsplit(".", 1)[-1]
        fix = (f" Fix: give {noun}, e.g. `--set {where}={example}`, or "
               f"`{leaf}: {example}` in a YAML recipe.")
    return ConfigError(f"{where} must be {noun}, got {value!r} (type {type(value).__name__}).{fix}")


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix else name


def _coerce(hint, value, where):
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        if value is None and _NONE in args:
            return None
        options = [a for a in args if a is not _NONE]
        errors = []
        for option in options:
            try:
                return _coerce(option, value, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0])
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)
    if origin is tuple or hint is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {value!r}. Fix: write a "
                              f"YAML list, e.g. `--set {where}=[a, b]`.")
        item = args[0] if args else typing.Any
        return tuple(_coerce(item, v, where) for v in value)
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping, got {value!r}. Fix: write a "
                              f"YAML mapping, e.g. `--set {where}={{key: value}}`.")
        return dict(value)
    if hint is typing.Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, str):
        # YAML 1.1 (PyYAML) reads "1e-3" without a dot as a string.
        try:
            return float(value)
        except ValueError:
            pass
    if hint is bool and not isinstance(value, bool):
        raise _wrong_type(where, hint, value)
    if hint in (int, float) and isinstance(value, bool):
        raise _wrong_type(where, hint, value)
    if not isinstance(value, hint):
        raise _wrong_type(where, hint, value)
    return value
