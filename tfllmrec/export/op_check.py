"""Which ops a SavedModel uses, and whether stock TF Serving has them."""

import subprocess
import sys
from pathlib import Path

from tensorflow.core.protobuf import saved_model_pb2


def saved_model_ops(saved_model_dir):
    """Every op type in a SavedModel's graphs and function library."""
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString(Path(saved_model_dir, "saved_model.pb").read_bytes())
    ops = set()
    for meta_graph in proto.meta_graphs:
        ops.update(node.op for node in meta_graph.graph_def.node)
        for function in meta_graph.graph_def.library.function:
            ops.update(node.op for node in function.node_def)
    # Calls to functions of the library appear as ops named after them.
    names = {f.signature.name for mg in proto.meta_graphs for f in mg.graph_def.library.function}
    return sorted(ops - names)


_CLASSIFY = """
import sys, json
from tensorflow.python.framework import op_def_registry
ops = json.loads(sys.argv[1])
core = [op for op in ops if op_def_registry.get(op) is not None]
import tensorflow_text  # registers TF Text's ops, which stock TF Serving links
text = [op for op in ops if op not in core and op_def_registry.get(op) is not None]
print(json.dumps({"core": core, "text": text}))
"""


def classify_ops(ops):
    """Splits op names into core TensorFlow, TensorFlow Text and other.

    Runs in a fresh interpreter, so only the ops TensorFlow registers by
    itself count as core (this process may have loaded other libraries).
    """
    import json

    result = subprocess.run(
        [sys.executable, "-c", _CLASSIFY, json.dumps(list(ops))],
        capture_output=True, text=True, check=True,
    )
    groups = json.loads(result.stdout.strip().splitlines()[-1])
    groups["other"] = sorted(set(ops) - set(groups["core"]) - set(groups["text"]))
    return groups
