"""Train and register the bike-sharing model as MLflow's own flavors, for mlbatch to run without Python.

What it does
------------
Trains, on ``examples/bikes/data/inputs_train.parquet`` / ``targets_train.parquet``, three small models of
the bikes regression, and registers each into a brand-new MLflow store with the flavor's own
``log_model``, a signature, and the alias ``Champion`` -> 1:

- ``bikes_sklearn``: the reference package's pipeline (``ColumnTransformer``: ``OneHotEncoder`` on season and
  weathersit, the numericals passed through; ``RandomForestRegressor``), ``mlflow.sklearn`` (MLflow 3 saves
  it as skops, which mlbatch reads; MLflow 2 pickles it, which mlbatch refuses to run: unpickling runs code);
- ``bikes_xgboost``: an ``XGBRegressor``, ``mlflow.xgboost``;
- ``bikes_lightgbm``: a LightGBM ``Booster``, ``mlflow.lightgbm``.

The store is the installed MLflow's: run with MLflow 3 it is ``mlflow3/`` (a SQLite registry, ``mlflow.db``,
artifacts in ``mlruns/``), with MLflow 2 ``mlflow2/`` (a file store, ``mlruns/``). Each store also gets
``predictions.parquet``: ``instant`` and each library's own predictions on ``inputs_test.parquet`` (the
libraries' ``predict``, in the file's row order), what mlbatch's predictions are checked against
(test/native/flavors-example.test.ts).

How to run
----------
From the repository root, once per MLflow::

    python -m venv .venv-flavors3 && .venv-flavors3/bin/pip install -r examples/flavors/requirements-mlflow3.txt
    .venv-flavors3/bin/python examples/flavors/register.py
    python -m venv .venv-flavors2 && .venv-flavors2/bin/pip install -r examples/flavors/requirements-mlflow2.txt
    .venv-flavors2/bin/python examples/flavors/register.py

Everything is seeded: the models are the same on every run (MLflow's ids and timestamps differ).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
import xgboost as xgb
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "bikes" / "data"
MLFLOW_MAJOR = int(mlflow.__version__.split(".")[0])
STORE = HERE / f"mlflow{MLFLOW_MAJOR}"
EXPERIMENT = "bikes_flavors"
CATEGORICALS = ["season", "weathersit"]
NUMERICALS = [
    "yr", "mnth", "hr", "holiday", "weekday", "workingday",
    "temp", "atemp", "hum", "windspeed", "casual", "registered",
]
FEATURES = CATEGORICALS + NUMERICALS
SEED = 42
SOURCE_TAGS = {"mlflow.source.name": "examples/flavors/register.py"}


def train(inputs: pd.DataFrame, targets: pd.Series) -> dict:
    """The three models, small enough to commit (a few hundred KB in all)."""
    pipeline = Pipeline(
        [
            (
                "transformer",
                ColumnTransformer(
                    [
                        ("categoricals", OneHotEncoder(sparse_output=False, handle_unknown="ignore"), CATEGORICALS),
                        ("numericals", "passthrough", NUMERICALS),
                    ],
                    remainder="drop",
                ),
            ),
            ("regressor", RandomForestRegressor(n_estimators=5, max_depth=5, random_state=SEED)),
        ]
    ).fit(inputs, targets)
    xgb_model = xgb.XGBRegressor(n_estimators=25, max_depth=4, learning_rate=0.3, random_state=SEED)
    xgb_model.fit(inputs[FEATURES], targets)
    booster = lgb.train(
        {"objective": "regression", "num_leaves": 15, "learning_rate": 0.3, "seed": SEED, "verbose": -1},
        lgb.Dataset(inputs[FEATURES], targets),
        num_boost_round=25,
    )
    return {"bikes_sklearn": pipeline, "bikes_xgboost": xgb_model, "bikes_lightgbm": booster}


def log(name: str, model, signature) -> None:
    common = {"signature": signature, "registered_model_name": name}
    common["name" if MLFLOW_MAJOR >= 3 else "artifact_path"] = "model"
    if name == "bikes_sklearn":
        extra = {"serialization_format": "skops"} if MLFLOW_MAJOR >= 3 else {}
        if MLFLOW_MAJOR >= 3:
            extra["skops_trusted_types"] = [
                "sklearn.compose._column_transformer._RemainderColsList",
                "sklearn.utils._bunch.Bunch",
                "sklearn.tree._tree.Tree",
            ]
        mlflow.sklearn.log_model(model, **common, **extra)
    elif name == "bikes_xgboost":
        mlflow.xgboost.log_model(model, **common)
    else:
        mlflow.lightgbm.log_model(model, **common)


def build_store(root: Path, models: dict, inputs: pd.DataFrame) -> None:
    previous = os.getcwd()
    os.chdir(root)
    try:
        uri = f"sqlite:///{root / 'mlflow.db'}" if MLFLOW_MAJOR >= 3 else (root / "mlruns").as_uri()
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        mlflow.set_experiment(EXPERIMENT)
        for name, model in models.items():
            columns = inputs[FEATURES] if name != "bikes_sklearn" else inputs
            signature = infer_signature(columns, predict(model, columns))
            with mlflow.start_run(run_name=name, tags=SOURCE_TAGS):
                log(name, model, signature)
            MlflowClient(tracking_uri=uri, registry_uri=uri).set_registered_model_alias(name, "Champion", "1")
    finally:
        os.chdir(previous)


def predict(model, inputs: pd.DataFrame) -> np.ndarray:
    if isinstance(model, lgb.Booster):
        return model.predict(inputs[FEATURES])
    return model.predict(inputs if isinstance(model, Pipeline) else inputs[FEATURES])


def main() -> None:
    inputs = pd.read_parquet(DATA / "inputs_train.parquet")
    targets = pd.read_parquet(DATA / "targets_train.parquet")["cnt"]
    test = pd.read_parquet(DATA / "inputs_test.parquet")
    models = train(inputs, targets)
    with tempfile.TemporaryDirectory(prefix="mlbatch-flavors-") as tmp:
        root = Path(tmp)
        build_store(root, models, inputs)
        shutil.rmtree(STORE, ignore_errors=True)
        STORE.mkdir(parents=True)
        shutil.copytree(root / "mlruns", STORE / "mlruns", ignore=shutil.ignore_patterns(".trash"))
        if MLFLOW_MAJOR >= 3:
            shutil.copy2(root / "mlflow.db", STORE / "mlflow.db")
            db = sqlite3.connect(STORE / "mlflow.db")
            db.execute("PRAGMA page_size = 1024")
            db.execute("VACUUM")
            db.close()
    predictions = pd.DataFrame({"instant": test.index.to_numpy()})  # the files' pandas index
    for name, model in models.items():
        predictions[name] = predict(model, test)
    predictions.to_parquet(STORE / "predictions.parquet", index=False, compression="zstd")
    print(f"registered {', '.join(models)} in {STORE.relative_to(HERE.parent.parent)}")


if __name__ == "__main__":
    main()
