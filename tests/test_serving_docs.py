"""Every REST and gRPC example of docs/serving.md runs against `tfllmrec serve` on the committed exports."""

import contextlib
import io
import json
import re
import shlex
import shutil
import urllib.error
import urllib.request

import numpy as np
import pytest

from conftest import REPO
from tfllmrec.serving import RestServer

DOC = REPO / "docs" / "serving.md"


def _blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), re.S)


def _curl_commands():
    """Each `curl ...` of the doc's bash blocks as (method, url, body or None)."""
    commands = []
    for block in _blocks("bash"):
        for command in block.replace("\\\n", " ").splitlines():
            words = shlex.split(command, comments=True)
            if not words or words[0] != "curl":
                continue
            method, body = "GET", None
            if "-X" in words:
                method = words[words.index("-X") + 1]
            if "-d" in words:
                body = words[words.index("-d") + 1].encode()
            url = next(w for w in words[1:] if w.startswith("http"))
            commands.append((method, url, body))
    return commands


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("served") / "saved_models"
    shutil.copytree(REPO / "saved_models", root)
    with RestServer(root, port=0, grpc_port=0) as server:
        yield server


def test_the_doc_has_rest_and_grpc_examples():
    assert len(_curl_commands()) >= 7
    assert any("insecure_channel" in block for block in _blocks("python"))


@pytest.mark.parametrize("method,url,body", _curl_commands(), ids=lambda v: v if isinstance(v, str) else None)
def test_rest_example_succeeds(server, method, url, body):
    request = urllib.request.Request(url.replace("http://localhost:8501", server.url), data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, answer = response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        status, answer = error.code, error.read().decode()
    assert status == 200, answer
    if body is None:
        assert set(answer) in ({"model_version_status"}, {"model_spec", "metadata"})
        return
    request = json.loads(body)
    if request.get("signature_name") == "rank":
        # One output: rows are the scores themselves, columns {"outputs": scores}.
        scores = answer["predictions"] if "instances" in request else answer["outputs"]
        lists = ([row["item_ids"] for row in request["instances"]] if "instances" in request
                 else request["inputs"]["item_ids"])
        assert [len(row) for row in scores] == [len(row) for row in lists]
        assert np.all(np.isfinite(scores)) and np.ptp(scores) > 0
        return
    rows = answer["predictions"] if "instances" in request else [dict(zip(answer["outputs"], values))
                                                                 for values in zip(*answer["outputs"].values())]
    k = request.get("inputs", {}).get("k", 10)
    assert rows and all(len(row["item_ids"]) == k and len(row["scores"]) == k for row in rows)
    assert all(np.all(np.diff(row["scores"]) <= 0) for row in rows)


def test_grpc_example_prints_the_top_items(server):
    [block] = [block for block in _blocks("python") if "insecure_channel" in block]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(block.replace("localhost:8500", f"127.0.0.1:{server.grpc_port}"), {})  # noqa: S102
    items = re.findall(r"b'([^']*)'", printed.getvalue())
    assert len(items) == 5, printed.getvalue()
