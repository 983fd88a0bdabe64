"""Prepare the benchmark: inputs, models and an MLflow registry, under a work folder (default .bench/).

1. Inputs: the bikes test set (examples/bikes/data/inputs_test.parquet, 3,476 rows) replicated to about
   1M rows (x288 = 1,001,088) and 10M rows (x2,880 = 10,010,880), written by pandas (so `instant` stays
   the pandas index, as in the original file): inputs_1m.parquet, inputs_10m.parquet.
2. Models: the reference package's pipeline (one-hot season and weathersit, the 12 numeric columns passed
   through, RandomForestRegressor) trained on inputs_train, in two sizes: rf200 (200 trees, depth 20, the
   reference's default) and rf20 (20 trees, depth 8). Each is pickled (for the Python peer) and exported
   to ONNX with skl2onnx (one input per column, as in the example).
3. Registry: both ONNX models registered with real MLflow in <work>/mlflow.db (+ <work>/mlruns), as
   models `bench_rf200` and `bench_rf20`, alias Champion -> 1.

usage: python bench/prepare.py [WORK_DIR]     (idempotent: skips what exists)
"""
import os
import shutil
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "examples" / "bikes" / "data"
WORK = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / ".bench").resolve()
CATEGORICALS = ["season", "weathersit"]
NUMERICALS = ["yr", "mnth", "hr", "holiday", "weekday", "workingday", "temp", "atemp", "hum", "windspeed", "casual", "registered"]
FEATURES = CATEGORICALS + NUMERICALS
MODELS = {"rf200": dict(n_estimators=200, max_depth=20), "rf20": dict(n_estimators=20, max_depth=8)}
REPLICAS = {"1m": 288, "10m": 2880}


def log(message: str) -> None:
    print(f"[prepare] {message}", file=sys.stderr, flush=True)


def inputs() -> None:
    test = pd.read_parquet(DATA / "inputs_test.parquet")
    for name, times in REPLICAS.items():
        path = WORK / f"inputs_{name}.parquet"
        if path.exists():
            continue
        t = time.time()
        big = pd.concat([test] * times)
        big.to_parquet(path, row_group_size=122_880)
        log(f"{path.name}: {len(big):,} rows in {time.time() - t:.1f}s")


def pipeline(params: dict):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    transformer = ColumnTransformer(
        [
            ("categoricals", OneHotEncoder(sparse_output=False, handle_unknown="ignore"), CATEGORICALS),
            ("numericals", "passthrough", NUMERICALS),
        ],
        remainder="drop",
    )
    return Pipeline([("transformer", transformer), ("regressor", RandomForestRegressor(random_state=42, **params))])


def to_onnx(model, X: pd.DataFrame):
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType

    types = [(c, Int64TensorType([None, 1]) if X[c].dtype.kind == "i" else FloatTensorType([None, 1])) for c in FEATURES]
    return convert_sklearn(model, initial_types=types, target_opset={"": 17, "ai.onnx.ml": 3})


def models() -> None:
    import mlflow
    from mlflow.models import infer_signature

    # The store records absolute paths: one made in another folder (a copy, a removed checkout) points to
    # artifacts that are not here, and is made again.
    marker = WORK / "store-root.txt"
    here = str(WORK.resolve())
    if (WORK / "mlflow.db").exists() and (not marker.exists() or marker.read_text() != here):
        log("the registry was made in another folder: making it again")
        (WORK / "mlflow.db").unlink()
        shutil.rmtree(WORK / "mlruns", ignore_errors=True)
        for name in MODELS:
            (WORK / f"{name}.pkl").unlink(missing_ok=True)
    marker.write_text(here)
    X = pd.read_parquet(DATA / "inputs_train.parquet")[FEATURES]
    y = pd.read_parquet(DATA / "targets_train.parquet")["cnt"]
    mlflow.set_tracking_uri(f"sqlite:///{WORK / 'mlflow.db'}")
    os.chdir(WORK)  # the default artifact root ./mlruns lands in the work folder
    client = mlflow.MlflowClient()
    mlflow.set_experiment("bench")
    for name, params in MODELS.items():
        registered = f"bench_{name}"
        if (WORK / f"{name}.pkl").exists() and client.search_model_versions(f"name='{registered}'"):
            continue
        t = time.time()
        model = pipeline(params).fit(X, y)
        log(f"{name}: trained in {time.time() - t:.1f}s")
        with open(WORK / f"{name}.pkl", "wb") as f:
            pickle.dump(model, f)
        onnx_model = to_onnx(model, X)
        signature = infer_signature(X, pd.DataFrame({"prediction": model.predict(X[:100]).astype(np.float32)}))
        with mlflow.start_run(run_name=name):
            mlflow.log_params(params)
            mlflow.onnx.log_model(onnx_model, name="model", signature=signature, registered_model_name=registered)
        client.set_registered_model_alias(registered, "Champion", 1)
        log(f"{name}: registered as {registered}@Champion ({onnx_model.ByteSize() / 1e6:.1f} MB ONNX)")


if __name__ == "__main__":
    WORK.mkdir(parents=True, exist_ok=True)
    inputs()
    models()
