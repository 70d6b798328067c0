"""An external trainer for Kingmaker: a Temporal worker, in Python, that trains one candidate of a
retrain run with scikit-learn and returns it as ONNX (skl2onnx).

A model's config names it as a candidate:

    candidates:
      - name: sklearn
        external: {task_queue: python-trainers, activity: train_sklearn, format: onnx}

At each retrain Kingmaker asks the activity, on that task queue, to train the candidate. The
activity's argument (Go: activities.ExternalTrainInput) holds no rows: it names the run's training
sample in Kingmaker's table run_data (the rows Kingmaker's own candidates train on: the window
without its holdout, sampled at the run's rate), and where to write the model file. The activity
reads the rows from Cassandra, checking each chunk's SHA-256, trains, writes the ONNX file back to
run_data in chunks, and returns only the file's SHA-256 and size. Kingmaker checks both, checks the
file's feature contract as `kingmaker models register` does, and the candidate competes with the
others on the run's holdout.

Run:  python trainer.py --task-queue python-trainers --activity train_sklearn
Environment: KINGMAKER_TEMPORAL_HOST_PORT (127.0.0.1:7233), KINGMAKER_TEMPORAL_NAMESPACE (default),
KINGMAKER_CASSANDRA_HOSTS (127.0.0.1), KINGMAKER_CASSANDRA_PORT (9042), and when the cluster
needs a login KINGMAKER_CASSANDRA_USERNAME and KINGMAKER_CASSANDRA_PASSWORD.

Candidate params (candidates[].params): C (inverse L2 strength of the logistic regression,
default 1.0).
"""
import argparse
import asyncio
import concurrent.futures
import gzip
import hashlib
import json
import os
import struct
import time

import numpy as np
import pandas as pd
import skl2onnx
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

CHUNK_MAGIC = b"KMR1"


def cassandra_session():
    hosts = os.environ.get("KINGMAKER_CASSANDRA_HOSTS", "127.0.0.1").split(",")
    port = int(os.environ.get("KINGMAKER_CASSANDRA_PORT", "9042"))
    auth = None
    if os.environ.get("KINGMAKER_CASSANDRA_USERNAME"):
        auth = PlainTextAuthProvider(os.environ["KINGMAKER_CASSANDRA_USERNAME"], os.environ.get("KINGMAKER_CASSANDRA_PASSWORD", ""))
    return Cluster(hosts, port=port, auth_provider=auth).connect()


def decode_chunk(data, width, rows):
    """A run_data chunk: gzip of "KMR1", width and rows (uint32 LE), then per row the class index
    (int32 LE) and width float64s (LE)."""
    raw = gzip.decompress(data)
    if raw[:4] != CHUNK_MAGIC:
        raise ValueError("no chunk header")
    w, n = struct.unpack_from("<II", raw, 4)
    if w != width or n != rows:
        raise ValueError(f"{n} rows of {w} columns, expected {rows} of {width}")
    rec = np.dtype([("y", "<i4"), ("x", "<f8", (width,))])
    body = np.frombuffer(raw, dtype=rec, offset=12, count=rows)
    return body["x"], body["y"]


def read_training_rows(session, rows):
    """The run's training sample: every chunk of part train, day by day, each checked against its
    SHA-256, and the manifest checked against the SHA-256 the run recorded."""
    table = f'{rows["keyspace"]}.{rows["table"]}'
    q = session.prepare(f"SELECT data, sha256 FROM {table} WHERE model = ? AND run_id = ? AND part = ? AND day = 0 AND chunk = 0")
    got = session.execute(q, (rows["model"], rows["run_id"], "manifest")).one()
    if got is None or hashlib.sha256(got.data).hexdigest() != rows["manifest_sha256"]:
        raise ApplicationError("the run's manifest is missing or does not match its SHA-256", non_retryable=True)
    manifest = json.loads(got.data)
    width = manifest["width"]
    q = session.prepare(f"SELECT chunk, rows, data, sha256 FROM {table} WHERE model = ? AND run_id = ? AND part = ? AND day = ? AND chunk < ?")
    xs, ys = [], []
    for day, n in enumerate(manifest[rows["part"]]):
        if n == 0:
            continue
        chunks = list(session.execute(q, (rows["model"], rows["run_id"], rows["part"], day, n)))
        if [c.chunk for c in chunks] != list(range(n)):
            raise ApplicationError(f"day {day}: chunks missing", non_retryable=True)
        for c in chunks:
            if hashlib.sha256(c.data).hexdigest() != c.sha256:
                raise ApplicationError(f"day {day} chunk {c.chunk} does not match its SHA-256", non_retryable=True)
            x, y = decode_chunk(c.data, width, c.rows)
            xs.append(x)
            ys.append(y)
        activity.heartbeat(day)
    if not xs:
        raise ApplicationError("the run's training sample is empty", non_retryable=True)
    return np.concatenate(xs), np.concatenate(ys)


def frame(x, features):
    """One column per feature, as the ONNX model takes them: numeric as float32, categorical as
    the category's name (index -1, unknown, becomes "" which the encoder ignores)."""
    cols = {}
    for j, f in enumerate(features):
        if f["type"] == "numeric":
            cols[f["name"]] = x[:, j].astype(np.float32).reshape(-1, 1)
        else:
            cats = np.array(list(f["categories"]) + [""], dtype=object)
            idx = x[:, j].astype(int)
            cols[f["name"]] = cats[np.where(idx < 0, len(cats) - 1, idx)].reshape(-1, 1)
    return cols


def fit(cols, y, features, params):
    """StandardScaler on the numeric features, OneHotEncoder (the config's category order) on the
    categorical ones, then a logistic regression; converted with one ONNX input per feature and
    zipmap off, as Kingmaker's ONNX loader takes it."""
    numeric = [f["name"] for f in features if f["type"] == "numeric"]
    categorical = [f for f in features if f["type"] != "numeric"]
    pre = ColumnTransformer([
        ("num", StandardScaler(), numeric),
        ("cat", OneHotEncoder(categories=[list(f["categories"]) for f in categorical], handle_unknown="ignore"),
         [f["name"] for f in categorical]),
    ])
    clf = LogisticRegression(C=float(params.get("C", 1.0)), max_iter=1000)
    pipe = Pipeline([("pre", pre), ("clf", clf)])
    pipe.fit(pd.DataFrame({f["name"]: cols[f["name"]][:, 0] for f in features}), y)
    types = [(n, FloatTensorType([None, 1])) for n in numeric] + [(f["name"], StringTensorType([None, 1])) for f in categorical]
    onx = convert_sklearn(pipe, initial_types=types, options={id(clf): {"zipmap": False}}, target_opset=17)
    return onx.SerializeToString(), pipe


EXPECT_ROWS = 50


def expect_csv(pipe, cols, features, classes):
    """scikit-learn's own probabilities for the first rows it trained on, as the CSV of `kingmaker
    models register --expect`: Kingmaker checks its predictions of the ONNX file against them."""
    n = min(EXPECT_ROWS, len(next(iter(cols.values()))))
    df = pd.DataFrame({f["name"]: cols[f["name"]][:n, 0] for f in features})
    proba = pipe.predict_proba(df)
    out = pd.DataFrame({f["name"]: [repr(float(v)) if f["type"] == "numeric" else v for v in df[f["name"]]] for f in features})
    for k, c in enumerate(pipe.classes_):
        out["proba:" + classes[int(c)]] = [repr(float(p)) for p in proba[:, k]]
    return out.to_csv(index=False).encode()


def write_artifact(session, art, blob):
    table = f'{art["keyspace"]}.{art["table"]}'
    q = session.prepare(f"INSERT INTO {table} (model, run_id, part, day, chunk, rows, data, sha256) VALUES (?, ?, ?, 0, ?, ?, ?, ?)")
    size = art["chunk_bytes"]
    n = 0
    for off in range(0, len(blob), size):
        part = blob[off:off + size]
        session.execute(q, (art["model"], art["run_id"], art["part"], n, len(part), part, hashlib.sha256(part).hexdigest()))
        n += 1
    return n


def make_activity(name):
    @activity.defn(name=name)
    def train(inp: dict) -> dict:
        began = time.time()
        spec = inp["spec"]
        if spec.get("task", "") not in ("", "binary", "multiclass"):
            raise ApplicationError(f"this trainer makes classifiers; model {inp['model']} has task {spec['task']}", non_retryable=True)
        if inp["format"] != "onnx":
            raise ApplicationError(f"this trainer writes onnx, the config asks for {inp['format']}", non_retryable=True)
        session = cassandra_session()
        try:
            x, y = read_training_rows(session, inp["rows"])
            activity.heartbeat("training")
            cols = frame(x, spec["features"])
            blob, pipe = fit(cols, y, spec["features"], inp.get("params") or {})
            chunks = write_artifact(session, inp["artifact"], blob)
            expect = expect_csv(pipe, cols, spec["features"], spec["label"]["classes"])
            write_artifact(session, dict(inp["artifact"], part=inp["artifact"]["part"] + "/expect", chunk_bytes=len(expect)), expect)
        finally:
            session.cluster.shutdown()
        return {"sha256": hashlib.sha256(blob).hexdigest(), "size": len(blob), "chunks": chunks, "format": "onnx",
                "producer": "skl2onnx", "producer_version": skl2onnx.__version__, "train_rows": int(len(y)),
                "expect_sha256": hashlib.sha256(expect).hexdigest(), "expect_size": len(expect),
                "seconds": time.time() - began}
    return train


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task-queue", required=True)
    ap.add_argument("--activity", default="train_sklearn")
    args = ap.parse_args()
    client = await Client.connect(os.environ.get("KINGMAKER_TEMPORAL_HOST_PORT", "127.0.0.1:7233"),
                                  namespace=os.environ.get("KINGMAKER_TEMPORAL_NAMESPACE", "default"))
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        worker = Worker(client, task_queue=args.task_queue, activities=[make_activity(args.activity)], activity_executor=pool)
        print(f"python-trainer: serving activity {args.activity} on task queue {args.task_queue}", flush=True)
        await worker.run()


if __name__ == "__main__":
    asyncio.run(main())
