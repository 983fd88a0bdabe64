"""The Python side of bench/flavors.mjs (issue 14's bar): inputs, models, and the peers' predict times.

Subcommands (WORK is the cache folder, .bench/flavors/ by default; everything is idempotent):

  prepare WORK
      1. inputs_1m.parquet: examples/bikes/data/inputs_test.parquet (3,476 rows) replicated 288 times
         (1,001,088 rows), `instant` offset by 17,380 per copy (so it stays unique), kept as the pandas
         index as in the original file.
      2. models/<name>/: saved by real MLflow (save_model), trained on inputs_train / targets_train, the 14
         bikes features (as examples/flavors/register.py):
           xgb  - XGBRegressor(n_estimators=500, max_depth=8), mlflow.xgboost.save_model (model.ubj)
           lgb  - lightgbm.train(num_leaves=255, max_depth=8, 500 rounds), mlflow.lightgbm.save_model
           rf_skops - the reference pipeline (OneHotEncoder + RandomForestRegressor 200 trees depth 20),
                      mlflow.sklearn.save_model(serialization_format="skops")
           rf_onnx  - the same pipeline exported by skl2onnx (one [None, 1] input per column, as
                      examples/bikes/train.py), mlflow.onnx.save_model
      3. mlflow.db: a tiny SQLite registry with each folder registered (bench_<name>, version 1, alias
         Champion), for `mlbatch run`.
      4. features.npy: the 1M rows' 14 features as float64 [n, 14] (FEATURES order), what the peers predict.
  predict WORK MODEL CONTENDER THREADS REPEAT [OUT.f64]
      Times one contender's predict on the 1M rows (data already in memory, best of REPEAT calls) and prints
      one JSON line {predict_s, load_s, compile_s, ...}; writes the predictions as raw float64 to OUT.
      MODEL: xgb, lgb, rf. CONTENDER: library (xgboost inplace_predict / lightgbm predict / the sklearn
      pipeline's predict with n_jobs), lleaves (lgb), tl2cgen (xgb, lgb: treelite model compiled by
      TL2cgen with gcc), gtil (treelite's own interpreter).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "examples" / "bikes" / "data"
CATEGORICALS = ["season", "weathersit"]
NUMERICALS = [
    "yr", "mnth", "hr", "holiday", "weekday", "workingday",
    "temp", "atemp", "hum", "windspeed", "casual", "registered",
]
FEATURES = CATEGORICALS + NUMERICALS
SEED = 42
REPLICAS = 288
INSTANT_STRIDE = 17_380  # the test set's instants end at 17,379
SKOPS_TRUSTED = [
    "sklearn.compose._column_transformer._RemainderColsList",
    "sklearn.utils._bunch.Bunch",
    "sklearn.tree._tree.Tree",
]


def log(message: str) -> None:
    print(f"[flavors.py] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- prepare


def prepare_inputs(work: Path) -> None:
    import pandas as pd

    path = work / "inputs_1m.parquet"
    if not path.exists():
        test = pd.read_parquet(DATA / "inputs_test.parquet")
        copies = []
        for k in range(REPLICAS):
            copy = test.copy()
            copy.index = test.index + k * INSTANT_STRIDE
            copies.append(copy)
        big = pd.concat(copies)
        big.index.name = "instant"
        big.to_parquet(work / "inputs_1m.tmp.parquet", row_group_size=122_880)
        os.replace(work / "inputs_1m.tmp.parquet", path)
        log(f"{path.name}: {len(big):,} rows")
    features = work / "features.npy"
    if not features.exists():
        big = pd.read_parquet(path, columns=FEATURES)
        np.save(features, big[FEATURES].to_numpy(dtype=np.float64))


def pipeline(n_estimators: int, max_depth: int):
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
    regressor = RandomForestRegressor(n_estimators=n_estimators, max_depth=max_depth, random_state=SEED)
    return Pipeline([("transformer", transformer), ("regressor", regressor)])


def to_onnx_per_column(model, X):
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType

    types = [
        (c, Int64TensorType([None, 1]) if X[c].dtype == np.int64 else FloatTensorType([None, 1]))
        for c in FEATURES
    ]
    return to_onnx(model, initial_types=types, target_opset={"": 17, "ai.onnx.ml": 3})


def prepare_models(work: Path) -> None:
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature

    X = pd.read_parquet(DATA / "inputs_train.parquet")[FEATURES]
    y = pd.read_parquet(DATA / "targets_train.parquet")["cnt"]
    models = work / "models"
    models.mkdir(exist_ok=True)

    def save(name: str, saver, predictions) -> None:
        target = models / name
        tmp = models / f"{name}.tmp"
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        signature = infer_signature(X, predictions)
        saver(tmp, signature)
        os.replace(tmp, target)
        log(f"saved models/{name}")

    if not (models / "xgb").exists():
        import xgboost as xgb

        t = time.time()
        model = xgb.XGBRegressor(n_estimators=500, max_depth=8, random_state=SEED, n_jobs=os.cpu_count())
        model.fit(X, y)
        log(f"xgb: trained in {time.time() - t:.1f}s")
        save("xgb", lambda p, s: mlflow.xgboost.save_model(model, str(p), signature=s), model.predict(X[:100]))
    if not (models / "lgb").exists():
        import lightgbm as lgb

        t = time.time()
        params = {"objective": "regression", "num_leaves": 255, "max_depth": 8, "seed": SEED, "verbose": -1}
        booster = lgb.train(params, lgb.Dataset(X, y), num_boost_round=500)
        log(f"lgb: trained in {time.time() - t:.1f}s")
        save("lgb", lambda p, s: mlflow.lightgbm.save_model(booster, str(p), signature=s), booster.predict(X[:100]))
    if not (models / "rf_skops").exists() or not (models / "rf_onnx").exists():
        t = time.time()
        rf = pipeline(200, 20)
        rf.set_params(regressor__n_jobs=os.cpu_count())
        rf.fit(X, y)
        rf.set_params(regressor__n_jobs=None)
        log(f"rf: trained in {time.time() - t:.1f}s")
        predictions = rf.predict(X[:100])
        if not (models / "rf_skops").exists():
            save(
                "rf_skops",
                lambda p, s: mlflow.sklearn.save_model(
                    rf, str(p), signature=s, serialization_format="skops", skops_trusted_types=SKOPS_TRUSTED
                ),
                predictions,
            )
        if not (models / "rf_onnx").exists():
            onnx_model = to_onnx_per_column(rf, X)
            save("rf_onnx", lambda p, s: mlflow.onnx.save_model(onnx_model, str(p), signature=s),
                 predictions.astype(np.float32))


def prepare_registry(work: Path) -> None:
    import mlflow

    db = work / "mlflow.db"
    uri = f"sqlite:///{db}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    for name in ["xgb", "lgb", "rf_skops", "rf_onnx"]:
        registered = f"bench_{name}"
        if client.search_model_versions(f"name='{registered}'"):
            continue
        client.create_registered_model(registered)
        client.create_model_version(registered, source=(work / "models" / name).as_uri())
        client.set_registered_model_alias(registered, "Champion", "1")
        log(f"registered {registered}@Champion")


# ---------------------------------------------------------------------------------------------- predict


def best_of(repeat: int, call):
    best, out = None, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = call()
        elapsed = time.perf_counter() - t
        best = elapsed if best is None else min(best, elapsed)
    return best, out


def predict(work: Path, model: str, contender: str, threads: int, repeat: int, out: str | None) -> None:
    X = np.load(work / "features.npy")
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    folder = work / "models" / ("rf_skops" if model == "rf" else model)
    info: dict = {"rows": len(X), "threads": threads}
    t0 = time.perf_counter()
    if model == "xgb" and contender == "library":
        import xgboost as xgb

        info["version"] = xgb.__version__
        booster = xgb.Booster()
        booster.load_model(str(folder / "model.ubj"))
        booster.set_param({"nthread": threads})
        info["load_s"] = time.perf_counter() - t0
        run = lambda: booster.inplace_predict(X32)  # noqa: E731
        info["how"] = "Booster.inplace_predict(float32 ndarray)"
    elif model == "lgb" and contender == "library":
        import lightgbm as lgb

        info["version"] = lgb.__version__
        booster = lgb.Booster(model_file=str(folder / "model.lgb"))
        info["load_s"] = time.perf_counter() - t0
        run = lambda: booster.predict(X, num_threads=threads)  # noqa: E731
        info["how"] = "Booster.predict(float64 ndarray, num_threads)"
    elif model == "rf" and contender == "library":
        import pandas as pd
        import sklearn
        import skops.io as sio

        info["version"] = sklearn.__version__
        rf = sio.load(str(folder / "model.skops"), trusted=sio.get_untrusted_types(file=str(folder / "model.skops")))
        rf.set_params(regressor__n_jobs=threads)
        frame = pd.DataFrame(X, columns=FEATURES)
        for c in FEATURES:
            if c not in ("temp", "atemp", "hum", "windspeed"):
                frame[c] = frame[c].astype(np.int64)
        info["load_s"] = time.perf_counter() - t0
        run = lambda: rf.predict(frame)  # noqa: E731
        info["how"] = "Pipeline.predict(DataFrame), RandomForestRegressor n_jobs"
    elif model == "lgb" and contender == "lleaves":
        import lleaves

        info["version"] = version_of("lleaves")
        m = lleaves.Model(model_file=str(folder / "model.lgb"))
        cache = work / "compiled" / "lleaves-lgb.o"
        cache.parent.mkdir(exist_ok=True)
        cached = cache.exists()
        t = time.perf_counter()
        m.compile(cache=str(cache))
        info["compile_s"] = None if cached else time.perf_counter() - t
        info["compile_cached"] = cached
        info["load_s"] = time.perf_counter() - t0
        run = lambda: m.predict(X, n_jobs=threads)  # noqa: E731
        info["how"] = "lleaves.Model.compile(), predict(float64 ndarray, n_jobs)"
    elif contender in ("tl2cgen", "gtil") and model in ("xgb", "lgb"):
        import treelite

        info["version"] = f"treelite {treelite.__version__}"
        if model == "xgb":
            import xgboost as xgb

            booster = xgb.Booster()
            booster.load_model(str(folder / "model.ubj"))
            tl = treelite.frontend.from_xgboost(booster)
        else:
            tl = treelite.frontend.load_lightgbm_model(str(folder / "model.lgb"))
        if contender == "gtil":
            info["load_s"] = time.perf_counter() - t0
            run = lambda: treelite.gtil.predict(tl, X32 if model == "xgb" else X, nthread=threads)  # noqa: E731
            info["how"] = "treelite.gtil.predict (treelite's interpreter)"
        else:
            import tl2cgen

            info["version"] += f", tl2cgen {tl2cgen.__version__}"
            lib = work / "compiled" / f"tl2cgen-{model}.so"
            lib.parent.mkdir(exist_ok=True)
            cached = lib.exists()
            t = time.perf_counter()
            if not cached:
                tmp = lib.with_suffix(".tmp.so")
                tl2cgen.export_lib(tl, toolchain="gcc", libpath=str(tmp),
                                   params={"parallel_comp": max(2, threads), "quantize": 1}, nthread=os.cpu_count())
                os.replace(tmp, lib)
            info["compile_s"] = None if cached else time.perf_counter() - t
            info["compile_cached"] = cached
            predictor = tl2cgen.Predictor(str(lib), nthread=threads)
            dtype = "float32" if model == "xgb" else "float64"
            dmat = tl2cgen.DMatrix(X32 if model == "xgb" else X, dtype=dtype)
            info["load_s"] = time.perf_counter() - t0
            run = lambda: predictor.predict(dmat)  # noqa: E731
            info["how"] = f"tl2cgen.export_lib(gcc, quantize) + Predictor.predict(DMatrix {dtype})"
    else:
        raise SystemExit(f"unknown contender {contender} for {model}")
    best, predictions = best_of(repeat, run)
    info["predict_s"] = best
    predictions = np.asarray(predictions, dtype=np.float64).reshape(len(X), -1)[:, 0]
    if out:
        predictions.tofile(out)
    print(json.dumps(info))


def version_of(package: str) -> str:
    from importlib.metadata import version

    try:
        return version(package)
    except Exception:  # noqa: BLE001
        return "?"


if __name__ == "__main__":
    command, work = sys.argv[1], Path(sys.argv[2]).resolve()
    work.mkdir(parents=True, exist_ok=True)
    if command == "prepare":
        prepare_inputs(work)
        prepare_models(work)
        prepare_registry(work)
    elif command == "predict":
        model, contender, threads, repeat = sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
        predict(work, model, contender, threads, repeat, sys.argv[7] if len(sys.argv) > 7 else None)
    else:
        raise SystemExit(__doc__)
