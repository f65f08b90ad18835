"""Serving under load: `tfllmrec serve` driven by a second process over loopback.

The server runs as `tfllmrec.serving.serve(ROOT, host="127.0.0.1", port=P, grpc_port=G)`
in its own process; a client process (a script written into tmp_path) sends a fixed,
seeded mix of valid predict requests (row and columnar formats, batches of 1-64 user
ids, `serving_default` and `recommend_k` with `k`) and malformed ones (bad JSON, wrong
types or ranks, unknown signature / input / model / version) from 32 threads. A third of the way in,
the test drops version 2 into the model folder as our exporter does (a hidden
`.2.tmp-...` folder, then `os.rename`). Checked: no 5xx and no transport error
on valid requests, a 4xx `{"error": ...}` for every malformed one, version 2
picked up with no failure around the swap, RSS steady, server still alive.
"""

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from test_serving_toy import TOY_ITEMS, TOY_SCORES, toy_versions  # noqa: F401  (session fixture)

REPO = Path(__file__).resolve().parents[1]

# 5000 requests: on the 2-core test machine the load itself takes ~10 s
# (~500 requests/s) and the whole test, server start-up included, ~20 s
# (~37 s with two busy processes competing for the cores). Every wait is
# bounded: the client stops sending after LOAD_DEADLINE_S (counted as a
# failure) and each request times out after REQUEST_TIMEOUT_S.
NUM_REQUESTS = 5000
MALFORMED_FRACTION = 0.2  # exactly NUM_REQUESTS // 5 malformed, at seeded positions
WORKERS = 32
SEED = 20240611
REQUEST_TIMEOUT_S = 20.0
LOAD_DEADLINE_S = 45.0
STARTUP_DEADLINE_S = 45.0
PICKUP_DEADLINE_S = 15.0  # from the rename to the first answer of version 2
RSS_TOLERANCE = 0.10


CLIENT_SCRIPT = r'''
"""Load client: sends a seeded request plan to the server, writes a JSON summary."""
import concurrent.futures
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.error
import urllib.request

cfg = json.load(open(sys.argv[1]))
PORT, N, TIMEOUT = cfg["port"], cfg["num_requests"], cfg["timeout_s"]
ITEMS = {int(v): items for v, items in cfg["items"].items()}
SCORES = cfg["scores"]
PREDICT = "/v1/models/toy:predict"
USERS = [f"u{i}" for i in range(100)]
rng = random.Random(cfg["seed"])


def dumps(value):
    return json.dumps(value).encode()


# (name, path, body, expected status): every one is a client error.
RK = {"signature_name": "recommend_k"}
MALFORMED = [
    ("invalid_json", PREDICT, b'{"instances": ["u1", ', 400),
    ("empty_body", PREDICT, b"", 400),
    ("not_an_object", PREDICT, b'["u1", "u2"]', 400),
    ("missing_instances_key", PREDICT, dumps({"queries": ["u1"]}), 400),
    ("both_keys", PREDICT, dumps({"instances": ["u1"], "inputs": ["u1"]}), 400),
    ("user_id_int", PREDICT, dumps({"instances": [1, 2, 3]}), 400),
    ("k_string", PREDICT, dumps({**RK, "inputs": {"user_id": ["u1"], "k": "3"}}), 400),
    ("k_float", PREDICT, dumps({**RK, "inputs": {"user_id": ["u1", "u2"], "k": 2.5}}), 400),
    ("k_list", PREDICT, dumps({**RK, "inputs": {"user_id": ["u1"], "k": [3]}}), 400),
    ("k_missing", PREDICT, dumps({**RK, "inputs": {"user_id": ["u1"]}}), 400),
    ("k_out_of_int32", PREDICT, dumps({**RK, "inputs": {"user_id": ["u1"], "k": 2 ** 40}}), 400),
    ("user_id_nested", PREDICT, dumps({"inputs": {"user_id": [["u1"], ["u2"]]}}), 400),
    ("k_in_each_instance", PREDICT, dumps({**RK, "instances": [{"user_id": "u1", "k": 2},
                                                                {"user_id": "u2", "k": 3}]}), 400),
    ("bad_b64", PREDICT, dumps({"instances": [{"b64": "!!not base64!!"}]}), 400),
    ("signature_not_string", PREDICT, dumps({"signature_name": 5, "instances": ["u1"]}), 400),
    ("unknown_signature", PREDICT, dumps({"signature_name": "nope", "instances": ["u1"]}), 400),
    ("unknown_input_row", PREDICT, dumps({"instances": [{"user_id": "u1", "bogus": 1}]}), 400),
    ("unknown_model", "/v1/models/nope:predict", dumps({"instances": ["u1"]}), 404),
    ("unknown_version", "/v1/models/toy/versions/99:predict", dumps({"instances": ["u1"]}), 404),
]


def valid_request():
    batch = rng.randint(1, 64)
    users = [rng.choice(USERS) for _ in range(batch)]
    fmt = rng.choice(["row_bare", "row_named", "columnar_named", "columnar_bare", "columnar_k"])
    k = rng.choice([1, 2, 3, 4, 5]) if fmt == "columnar_k" else 3
    if fmt == "row_bare":
        body = {"instances": users}
    elif fmt == "row_named":
        body = {"instances": [{"user_id": u} for u in users]}
    elif fmt == "columnar_bare":
        body = {"inputs": users}
    elif fmt == "columnar_named":
        body = {"inputs": {"user_id": users}}
    else:
        body = {**RK, "inputs": {"user_id": users, "k": k}}
    return {"valid": True, "name": fmt, "path": PREDICT, "body": dumps(body), "batch": batch, "k": k}


# The plan is drawn up front, so the same seed gives the same requests.
kinds = [False] * int(N * cfg["malformed_fraction"])
kinds += [True] * (N - len(kinds))
rng.shuffle(kinds)
plan = []
for is_valid in kinds:
    if is_valid:
        request = valid_request()
    else:
        name, path, body, expected = rng.choice(MALFORMED)
        request = {"valid": False, "name": name, "path": path, "body": body, "expected": expected}
    # Most requests reuse the worker's keep-alive connection; some open a fresh one.
    request["fresh"] = rng.random() < 0.1
    plan.append(request)

local = threading.local()


def send_keep_alive(path, body):
    conn = getattr(local, "conn", None)
    if conn is None:
        conn = local.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=TIMEOUT)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read()
    except BaseException:
        conn.close()
        local.conn = None
        raise


def send_fresh(path, body):
    request = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def check_valid(request, payload):
    """(answering version, problem or None) of a 200 answer to a valid request."""
    batch, k = request["batch"], request["k"]
    if request["name"].startswith("row"):
        rows = payload.get("predictions")
        if not isinstance(rows, list) or len(rows) != batch:
            return None, f"predictions is not a list of {batch}: {str(payload)[:200]}"
        columns = {"item_ids": [r.get("item_ids") for r in rows], "scores": [r.get("scores") for r in rows]}
    else:
        columns = payload.get("outputs")
        if not isinstance(columns, dict) or set(columns) != {"item_ids", "scores"}:
            return None, f"outputs is not {{item_ids, scores}}: {str(payload)[:200]}"
    ids = columns["item_ids"]
    if not isinstance(ids, list) or len(ids) != batch or not ids or not isinstance(ids[0], list) or not ids[0]:
        return None, f"item_ids has the wrong shape: {str(ids)[:200]}"
    version = 2 if str(ids[0][0]).startswith("v2-") else 1
    want_ids, want_scores = ITEMS[version][:k], SCORES[:k]
    if ids != [want_ids] * batch or columns["scores"] != [want_scores] * batch:
        return version, f"unexpected outputs for version {version}, k={k}: {str(payload)[:200]}"
    return version, None


lock = threading.Lock()
done = [0]
started_at = time.monotonic()
stop_at = started_at + cfg["deadline_s"]
progress_path = cfg["progress_path"]


def write_progress(count):
    tmp = progress_path + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(count))
    os.replace(tmp, progress_path)


def run(index):
    request = plan[index]
    t0 = time.monotonic()
    status, version, problem = None, None, None
    if t0 > stop_at:
        problem = "skipped: the load deadline passed"
    else:
        try:
            send = send_fresh if request["fresh"] else send_keep_alive
            status, raw = send(request["path"], request["body"])
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = None
            if request["valid"]:
                if status != 200:
                    problem = f"status {status}: {raw[:200]!r}"
                elif not isinstance(payload, dict):
                    problem = f"200 with a non-JSON body: {raw[:200]!r}"
                else:
                    version, problem = check_valid(request, payload)
            else:
                if not (isinstance(payload, dict) and set(payload) == {"error"}
                        and isinstance(payload["error"], str) and payload["error"]):
                    problem = f"status {status} without a JSON {{\"error\": ...}} body: {raw[:200]!r}"
                elif status != request["expected"]:
                    problem = f"status {status}, expected {request['expected']}: {payload['error'][:200]}"
        except Exception as error:  # noqa: BLE001  timeouts, resets: a failed request
            problem = f"exception {type(error).__name__}: {error}"
    t1 = time.monotonic()
    with lock:
        done[0] += 1
        if done[0] % 100 == 0:
            write_progress(done[0])
    return [index, request["valid"], request["name"], request["fresh"], t0, t1, status, version, problem]


with concurrent.futures.ThreadPoolExecutor(max_workers=cfg["workers"]) as pool:
    records = list(pool.map(run, range(N)))
write_progress(N)

summary = {"valid": {}, "malformed": {}, "exceptions": 0, "skipped": 0, "problems": {},
           "elapsed_s": time.monotonic() - started_at}
for index, valid, name, fresh, t0, t1, status, version, problem in records:
    group = summary["valid" if valid else "malformed"]
    key = "exception" if status is None else str(status)
    group[key] = group.get(key, 0) + 1
    if problem is not None:
        if problem.startswith("exception"):
            summary["exceptions"] += 1
        if problem.startswith("skipped"):
            summary["skipped"] += 1
        bucket = summary["problems"].setdefault("valid" if valid else "malformed", [])
        if len(bucket) < 20:
            bucket.append(f"#{index} {name}{' (fresh)' if fresh else ''}: {problem}")
summary["counts"] = {"valid": sum(1 for r in records if r[1]), "malformed": sum(1 for r in records if not r[1])}
summary["problem_counts"] = {
    "valid": sum(1 for r in records if r[1] and r[8] is not None),
    "malformed": sum(1 for r in records if not r[1] and r[8] is not None),
}
summary["records"] = records
with open(cfg["output_path"], "w") as f:
    json.dump(summary, f)
'''


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(port, method, path, body=None, timeout=10.0):
    """(status, parsed JSON or None) of one request on a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        raw = response.read()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, None
    finally:
        conn.close()


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"No VmRSS in /proc/{pid}/status")


def tail(path, size=3000):
    try:
        return Path(path).read_text(errors="replace")[-size:]
    except OSError:
        return "<no log>"


def wait_until_ready(proc, port, log_path):
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"`tfllmrec serve` exited with {proc.returncode}:\n{tail(log_path)}")
        try:
            status, body = request(port, "GET", "/v1/models/toy", timeout=5)
            if status == 200:
                return body
            last = (status, body)
        except OSError as error:
            last = error
        time.sleep(0.2)
    raise AssertionError(f"The server did not answer GET /v1/models/toy with 200 within "
                         f"{STARTUP_DEADLINE_S} s (last: {last!r}):\n{tail(log_path)}")


def stop(proc):
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def test_serve_under_load_with_a_version_swap(tmp_path, toy_versions):  # noqa: F811
    root = tmp_path / "models"
    shutil.copytree(toy_versions[1], root / "toy" / "1")
    port = free_port()
    log_path = tmp_path / "server.log"
    client_log = tmp_path / "client.log"
    server = client = None
    try:
        with open(log_path, "wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-c", "import sys; from tfllmrec.serving import serve; "
                 "serve(sys.argv[1], host='127.0.0.1', port=int(sys.argv[2]), grpc_port=int(sys.argv[3]))",
                 str(root), str(port), str(free_port())],
                cwd=REPO, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        status = wait_until_ready(server, port, log_path)
        assert status == {"model_version_status": [
            {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}

        # Warm-up: 100 valid requests, 32 at a time (the load's concurrency, so
        # per-thread allocator arenas exist before the baseline is read).
        # A transport error here is recorded, not raised, so the run goes on.
        warm_body = {"instances": [f"u{i}" for i in range(32)]}

        def warm_request(_):
            try:
                return request(port, "POST", "/v1/models/toy:predict", warm_body, REQUEST_TIMEOUT_S)[0]
            except OSError as error:
                return f"{type(error).__name__}: {error}"

        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            warm = list(pool.map(warm_request, range(100)))
        warm_failed = [w for w in warm if w != 200]
        time.sleep(0.5)
        rss_warm = rss_kib(server.pid)

        script = tmp_path / "load_client.py"
        script.write_text(CLIENT_SCRIPT)
        progress_path = tmp_path / "progress.txt"
        output_path = tmp_path / "summary.json"
        config = {
            "port": port, "num_requests": NUM_REQUESTS, "malformed_fraction": MALFORMED_FRACTION,
            "seed": SEED, "workers": WORKERS, "timeout_s": REQUEST_TIMEOUT_S,
            "deadline_s": LOAD_DEADLINE_S, "progress_path": str(progress_path),
            "output_path": str(output_path), "items": {str(v): i for v, i in TOY_ITEMS.items()},
            "scores": TOY_SCORES,
        }
        (tmp_path / "client.json").write_text(json.dumps(config))
        load_started = time.monotonic()
        with open(client_log, "wb") as log:
            client = subprocess.Popen([sys.executable, str(script), str(tmp_path / "client.json")],
                                      stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

        # A third of the way in, version 2 arrives as our exporter writes it:
        # into a hidden temporary sibling, then renamed into place whole.
        swap_at = None
        deadline = time.monotonic() + LOAD_DEADLINE_S
        while time.monotonic() < deadline and client.poll() is None:
            try:
                done = int(progress_path.read_text() or 0)
            except (OSError, ValueError):
                done = 0
            if done >= NUM_REQUESTS // 3:
                staging = root / "toy" / ".2.tmp-xyz"
                shutil.copytree(toy_versions[2], staging)
                os.rename(staging, root / "toy" / "2")
                swap_at = time.monotonic()
                break
            time.sleep(0.02)
        assert swap_at is not None, (
            f"The client never reached {NUM_REQUESTS // 3} requests (exit {client.poll()}):\n{tail(client_log)}")

        try:
            client.wait(timeout=LOAD_DEADLINE_S + REQUEST_TIMEOUT_S + 5)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"The load client did not finish:\n{tail(client_log)}") from None
        load_seconds = time.monotonic() - load_started
        assert client.returncode == 0, f"The load client failed:\n{tail(client_log)}"
        summary = json.loads(output_path.read_text())
        records = summary.pop("records")

        assert server.poll() is None, f"The server died under load:\n{tail(log_path)}"
        time.sleep(0.5)
        rss_after = rss_kib(server.pid)
        rss_change = (rss_after - rss_warm) / rss_warm
        report = (f"{NUM_REQUESTS} requests in {load_seconds:.1f} s "
                  f"({NUM_REQUESTS / load_seconds:.0f}/s); RSS after warm-up {rss_warm / 1024:.1f} MiB, "
                  f"after the load {rss_after / 1024:.1f} MiB ({100 * rss_change:+.1f}%); "
                  f"status codes: valid {summary['valid']}, malformed {summary['malformed']}")
        print(report)
        details = f"{report}\nproblems: {json.dumps(summary['problems'], indent=1)}\nserver log:\n{tail(log_path)}"

        # Every check is recorded, then all failures are reported together.
        failures = []

        def check(condition, message):
            if not condition:
                failures.append(message)

        check(not warm_failed, f"{len(warm_failed)} of 100 warm-up requests failed: {warm_failed[:5]}")

        # Every request was sent and every valid one answered 200 with the right outputs.
        check(summary["skipped"] == 0, f"{summary['skipped']} requests not sent before the load deadline")
        check(summary["counts"] == {"valid": NUM_REQUESTS - NUM_REQUESTS // 5, "malformed": NUM_REQUESTS // 5},
              f"request mix {summary['counts']}")
        check(summary["exceptions"] == 0, f"{summary['exceptions']} requests ended in a transport exception "
              f"(valid: {summary['valid'].get('exception', 0)}, malformed: {summary['malformed'].get('exception', 0)})")
        fives = {k: v for g in ("valid", "malformed") for k, v in summary[g].items()
                 if k != "exception" and int(k) >= 500}
        check(not fives, f"5xx answers: {fives}")
        check(summary["problem_counts"]["valid"] == 0,
              f"{summary['problem_counts']['valid']} valid requests failed: {summary['problems'].get('valid', [])[:10]}")

        # Every malformed request got a 4xx (TF Serving's 400 or 404) with {"error": "..."}.
        check(all(code != "exception" and 400 <= int(code) < 500 for code in summary["malformed"]),
              f"malformed requests answered {summary['malformed']}")
        check(summary["problem_counts"]["malformed"] == 0,
              f"{summary['problem_counts']['malformed']} malformed requests got no 4xx {{\"error\"}} answer: "
              f"{summary['problems'].get('malformed', [])[:10]}")

        # Version 2 was picked up while the load ran, never answered before it
        # existed, and no request started after its first answer got version 1.
        valid = [r for r in records if r[1]]
        v2 = [r for r in valid if r[7] == 2]
        check(v2, "version 2 never answered after the swap")
        if v2:
            first_v2_end = min(r[5] for r in v2)
            check(first_v2_end > swap_at, "version 2 answered before it was renamed into place")
            check(first_v2_end - swap_at < PICKUP_DEADLINE_S,
                  f"version 2 first answered {first_v2_end - swap_at:.1f} s after the rename")
            late_v1 = [r for r in valid if r[7] == 1 and r[4] > first_v2_end]
            check(not late_v1, f"{len(late_v1)} requests got version 1 after version 2 answered: {late_v1[:3]}")
            around = [r for r in valid if r[5] > swap_at - 1.0 and r[4] < first_v2_end + 1.0]
            failed_around = [r for r in around if r[6] != 200 or r[8] is not None]
            check(around and not failed_around,
                  f"{len(failed_around)} of {len(around)} valid requests around the swap failed: {failed_around[:5]}")
            print(f"version 2 first answered {first_v2_end - swap_at:.2f} s after the rename; "
                  f"{len(around)} valid requests around the swap ({len(failed_around)} failed), "
                  f"{len(v2)} answered by version 2")

        # Memory stays flat: no per-request leak (the baseline already had version 1 warm).
        check(abs(rss_change) <= RSS_TOLERANCE,
              f"RSS changed by {100 * rss_change:+.1f}% (limit {100 * RSS_TOLERANCE:.0f}%)")

        # Still alive and serving version 2.
        try:
            final = request(port, "POST", "/v1/models/toy:predict",
                            {"signature_name": "recommend_k", "inputs": {"user_id": ["u1"], "k": 2}})
        except OSError as error:
            final = repr(error)
        check(final == (200, {"outputs": {"item_ids": [TOY_ITEMS[2][:2]], "scores": [TOY_SCORES[:2]]}}),
              f"final request after the load: {final}")
        check(server.poll() is None, f"the server exited with {server.returncode}")

        assert not failures, "\n".join(failures) + "\n\n" + details
    finally:
        if client is not None and client.poll() is None:
            client.kill()
            client.wait(timeout=10)
        stop(server)
