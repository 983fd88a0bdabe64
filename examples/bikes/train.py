"""Train, export and register the bike-sharing example models.

What it does
------------
1. Trains two versions of the bike-sharing regression pipeline (a scikit-learn
   ``ColumnTransformer`` + ``RandomForestRegressor``, the pipeline of the
   reference Python package) on ``data/inputs_train.parquet`` /
   ``data/targets_train.parquet``, with different hyper-parameters, and prints
   the R^2 of each on the test split.
2. Exports each pipeline to ONNX with skl2onnx, with one input per feature
   column, named like the column, of shape [None, 1]: int64 columns as int64,
   double columns as float32 (the usual MLflow practice; a client casts float64
   to float32). The output keeps skl2onnx's default name, ``variable``
   (float32, [None, 1]). The ONNX predictions are checked against scikit-learn's
   with onnxruntime.
3. Logs both into a brand-new MLflow store built in a temporary directory
   (sqlite registry ``mlflow.db`` + artifacts under ``mlruns/``), experiment
   ``bikes``, registered model ``bikes`` (versions 1 and 2), and sets the
   aliases ``Champion`` -> 2 and ``Challenger`` -> 1.
4. Copies ``mlflow.db`` and ``mlruns/`` into this folder (replacing previous
   ones) and VACUUMs the copied database (with 1 KiB pages, to keep it small).
5. Writes ``data/sklearn_predictions_test.parquet`` (columns ``instant``,
   ``v1``, ``v2``): scikit-learn's own predictions on ``data/inputs_test.parquet``,
   in the file's row order, to check the ONNX batch predictions against.

The store's URIs (``file:///tmp/mlbatch-store-.../mlruns/...``) point to the
deleted temporary directory: that is intended, a reader of the store resolves
them relative to the store's own folder.

How to run
----------
From the repository root, with a Python environment that has the packages of
``examples/bikes/requirements.txt`` (MLflow 3)::

    python -m venv .venv-bikes
    .venv-bikes/bin/pip install -r examples/bikes/requirements.txt
    .venv-bikes/bin/python examples/bikes/train.py

Everything is seeded, so the models are the same on every run (the MLflow ids
and timestamps differ).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

import mlflow
import numpy as np
import onnxruntime as ort
import pandas as pd
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType, Int64TensorType
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import r2_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"

EXPERIMENT = "bikes"
MODEL_NAME = "bikes"

CATEGORICALS = ["season", "weathersit"]
NUMERICALS = [
    "yr", "mnth", "hr", "holiday", "weekday", "workingday",
    "temp", "atemp", "hum", "windspeed", "casual", "registered",
]
# The model's 14 features, in the order the pipeline uses them: the two
# categoricals, then the twelve numericals. The ONNX inputs and the MLflow
# signature follow this order. (`dteday` is not a feature.)
FEATURES = CATEGORICALS + NUMERICALS

# Version 1 is small and a bit less accurate, version 2 bigger and better.
HYPER_PARAMETERS = {
    1: {"n_estimators": 8, "max_depth": 6},
    2: {"n_estimators": 20, "max_depth": 8},
}
RANDOM_STATE = 42
# Recorded as the runs' and models' source, instead of however this script was invoked
# (which may be an absolute path of this machine).
SOURCE_TAGS = {"mlflow.source.name": "examples/bikes/train.py"}
ONNX_OPSETS = {"": 17, "ai.onnx.ml": 3}


def make_pipeline(n_estimators: int, max_depth: int) -> Pipeline:
    """The reference package's pipeline: one-hot categoricals, pass numericals through, random forest."""
    transformer = ColumnTransformer(
        [
            ("categoricals", OneHotEncoder(sparse_output=False, handle_unknown="ignore"), CATEGORICALS),
            ("numericals", "passthrough", NUMERICALS),
        ],
        remainder="drop",
    )
    regressor = RandomForestRegressor(
        n_estimators=n_estimators, max_depth=max_depth, random_state=RANDOM_STATE
    )
    return Pipeline([("transformer", transformer), ("regressor", regressor)])


def to_onnx_per_column(pipeline: Pipeline, inputs: pd.DataFrame):
    """ONNX export with one [None, 1] input per feature column: int64 stays int64, double becomes float32."""
    initial_types = [
        (
            column,
            Int64TensorType([None, 1]) if inputs[column].dtype == np.int64 else FloatTensorType([None, 1]),
        )
        for column in FEATURES
    ]
    return with_sorted_opsets(to_onnx(pipeline, initial_types=initial_types, target_opset=ONNX_OPSETS))


def with_sorted_opsets(model):
    """skl2onnx lists the opsets in an order that changes from run to run: sort them, for the same bytes every time."""
    opsets = sorted((o.domain, o.version) for o in model.opset_import)
    del model.opset_import[:]
    for domain, version in opsets:
        model.opset_import.add(domain=domain, version=version)
    return model


def onnx_feeds(inputs: pd.DataFrame) -> dict[str, np.ndarray]:
    """Feed each column as its own [N, 1] tensor, doubles cast to float32 (as a batch client does)."""
    feeds = {}
    for column in FEATURES:
        values = inputs[column].to_numpy()
        if values.dtype == np.float64:
            values = values.astype(np.float32)
        feeds[column] = values.reshape(-1, 1)
    return feeds


def check_onnx(onnx_model, sklearn_predictions: np.ndarray, inputs: pd.DataFrame) -> None:
    session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    (onnx_predictions,) = session.run(None, onnx_feeds(inputs))
    np.testing.assert_allclose(onnx_predictions.ravel(), sklearn_predictions, rtol=1e-3, atol=1e-3)


def build_store(store: Path, models: dict, signature, r2: dict) -> None:
    """Log and register the models into a new sqlite-backed MLflow store in `store`."""
    previous_cwd = os.getcwd()
    os.chdir(store)  # MLflow's default artifact root for a sqlite store is ./mlruns
    try:
        uri = f"sqlite:///{store / 'mlflow.db'}"
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        mlflow.set_experiment(EXPERIMENT)  # artifacts go to <store>/mlruns/<experiment id>/
        for version, onnx_model in models.items():
            with mlflow.start_run(run_name=f"bikes-v{version}", tags=SOURCE_TAGS):
                mlflow.log_params(HYPER_PARAMETERS[version])
                mlflow.log_metric("r2", r2[version])
                mlflow.onnx.log_model(
                    onnx_model,
                    name="model",
                    signature=signature,
                    registered_model_name=MODEL_NAME,
                    tags=SOURCE_TAGS,
                )
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.set_registered_model_alias(MODEL_NAME, "Champion", "2")
        client.set_registered_model_alias(MODEL_NAME, "Challenger", "1")
    finally:
        os.chdir(previous_cwd)


def copy_store(store: Path, destination: Path) -> None:
    """Replace destination/mlflow.db and destination/mlruns/ with the store's, and VACUUM the database."""
    shutil.rmtree(destination / "mlruns", ignore_errors=True)
    (destination / "mlflow.db").unlink(missing_ok=True)
    shutil.copytree(store / "mlruns", destination / "mlruns", ignore=shutil.ignore_patterns(".trash"))
    shutil.copy2(store / "mlflow.db", destination / "mlflow.db")
    db = sqlite3.connect(destination / "mlflow.db")
    # MLflow's schema has ~200 tables and indexes of one page each at least: smaller pages
    # make the committed file much smaller. VACUUM applies the new page size.
    db.execute("PRAGMA page_size = 1024")
    db.execute("VACUUM")
    db.close()


def main() -> None:
    inputs_train = pd.read_parquet(DATA / "inputs_train.parquet")
    targets_train = pd.read_parquet(DATA / "targets_train.parquet")["cnt"]
    inputs_test = pd.read_parquet(DATA / "inputs_test.parquet")
    targets_test = pd.read_parquet(DATA / "targets_test.parquet")["cnt"]

    models, predictions, r2 = {}, {}, {}
    for version, hyper_parameters in HYPER_PARAMETERS.items():
        pipeline = make_pipeline(**hyper_parameters).fit(inputs_train, targets_train)
        predictions[version] = pipeline.predict(inputs_test)
        r2[version] = float(r2_score(targets_test, predictions[version]))
        print(f"version {version} {hyper_parameters}: R^2 on the test set = {r2[version]:.4f}")
        models[version] = to_onnx_per_column(pipeline, inputs_train)
        check_onnx(models[version], predictions[version], inputs_test)
        print(f"version {version}: ONNX {len(models[version].SerializeToString())} bytes, matches scikit-learn")
    assert r2[2] > 0.9, "version 2 should predict well"

    # The signature: the 14 feature columns as they are in the data (long / double),
    # and one float32 output column "prediction".
    signature = infer_signature(
        inputs_train[FEATURES],
        pd.DataFrame({"prediction": predictions[2].astype("float32")}),
    )

    # A fresh store in a neutral temporary folder (its absolute path ends up in the store's URIs).
    store = Path(tempfile.mkdtemp(prefix="mlbatch-store-")).resolve()
    try:
        build_store(store, models, signature, r2)
        copy_store(store, HERE)
    finally:
        shutil.rmtree(store, ignore_errors=True)
    print(f"MLflow store written to {HERE.name}/mlflow.db and {HERE.name}/mlruns/")

    sklearn_predictions = pd.DataFrame(
        {
            "instant": inputs_test.index.to_numpy(dtype=np.int64),
            "v1": predictions[1].astype(np.float64),
            "v2": predictions[2].astype(np.float64),
        }
    )
    sklearn_predictions.to_parquet(DATA / "sklearn_predictions_test.parquet", index=False)
    print(f"scikit-learn predictions written to {DATA.parent.name}/data/sklearn_predictions_test.parquet")


if __name__ == "__main__":
    main()
