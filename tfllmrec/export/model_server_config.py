"""TF Serving's model config file (`models.config`) for a saved_models/ folder."""

from pathlib import Path

from tfllmrec.files import write_atomic


def model_names(root):
    """Model folders under `root`: those holding at least one numbered version.

    Example:
    >>> import os
    >>> for folder in ["saved_models/video/1", "saved_models/news/3", "saved_models/empty"]:
    ...     os.makedirs(folder)
    >>> for version in ["saved_models/video/1", "saved_models/news/3"]:
    ...     _ = open(f"{version}/saved_model.pb", "wb").write(b"")
    >>> model_names("saved_models")
    ['news', 'video']
    """
    root = Path(root)
    names = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if any(v.name.isdigit() and (v / "saved_model.pb").is_file() for v in folder.iterdir()):
            names.append(folder.name)
    return names


def write_models_config(root, base_path="/models"):
    """Writes `root/models.config` listing every model under `root`.

    `base_path` is where `root` is mounted inside the TF Serving container
    (`docker run -v $PWD/saved_models:/models ...`).

    Example:
    >>> import os
    >>> os.makedirs("serving/video/1")
    >>> _ = open("serving/video/1/saved_model.pb", "wb").write(b"")
    >>> write_models_config("serving")
    'serving/models.config'
    >>> print(open("serving/models.config").read(), end="")
    model_config_list {
      config {
        name: 'video'
        base_path: '/models/video'
        model_platform: 'tensorflow'
        model_version_policy { latest { num_versions: 1 } }
      }
    }
    """
    root = Path(root)
    entries = []
    for name in model_names(root):
        entries.append(
            "  config {\n"
            f"    name: '{name}'\n"
            f"    base_path: '{base_path}/{name}'\n"
            "    model_platform: 'tensorflow'\n"
            "    model_version_policy { latest { num_versions: 1 } }\n"
            "  }\n"
        )
    path = root / "models.config"
    write_atomic(path, "model_config_list {\n" + "".join(entries) + "}\n")
    return str(path)
