"""Every committed export, loaded through TF Serving's session path, answers as `tf.saved_model.load` does.

`LoadedModel.load` is the dev server's emulation of TF Serving's load: the C++ session loader
(`tf.compat.v1.saved_model.loader.load`), then the warm-up records replayed
(saved_model_warmup_util.cc: a failing record fails the load). Each signature is then run, on the
warm-up requests and on a synthesized request, by tensor names (predict_util.cc RunPredict) and
compared with the same signature called through `tf.saved_model.load`. The requests come from
scripts/check_tf_serving_compat.py, which runs the same comparison against TensorFlow 2.20.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfllmrec.serving import LoadedModel

REPO = Path(__file__).resolve().parents[1]
EXPORTS = sorted(p for p in (REPO / "saved_models").glob("*/*") if (p / "saved_model.pb").exists() and p.name.isdigit())
_spec = importlib.util.spec_from_file_location("check_tf_serving_compat", REPO / "scripts" / "check_tf_serving_compat.py")
compat = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compat)


def test_there_are_committed_exports():
    assert [p.parent.name for p in EXPORTS] == ["ecommerce", "music", "news", "video"]


@pytest.mark.parametrize("export", EXPORTS, ids=[f"{p.parent.name}/{p.name}" for p in EXPORTS])
def test_session_path_matches_saved_model_load(export):
    model = LoadedModel.load(export.parent.name, int(export.name), export)  # replays the warm-up records
    requests = compat.plan_for(export)
    assert any(label.startswith("warmup") for label, _, _ in requests)
    assert {name for _, name, _ in requests} == set(model.signature_defs) - {"__saved_model_init_op"}
    functions = tf.saved_model.load(str(export)).signatures
    for label, name, inputs in requests:
        signature = model.signature_defs[name]
        full = {key: inputs[key] if key in inputs else tf.make_ndarray(signature.defaults[key]) for key in signature.inputs}
        resolved, ours = model.predict(name, inputs)  # defaults filled in by GetInputValues()
        theirs = {key: value.numpy() for key, value in functions[name](**{k: tf.constant(v) for k, v in full.items()}).items()}
        assert resolved == name and set(ours) == set(theirs) == set(signature.outputs), (label, name)
        for output, value in ours.items():
            assert value.shape == theirs[output].shape and value.dtype == theirs[output].dtype, (label, name, output)
            if value.dtype == object:
                assert (value == theirs[output]).all(), (label, name, output)
            else:
                np.testing.assert_allclose(value, theirs[output], rtol=1e-6, atol=1e-6, err_msg=f"{label} {name} {output}")
