"""Trains random small XGBoost and LightGBM models for test/native/random.test.ts.

    python random_models.py OUT SEED CASES

Writes OUT/<i>.json|.ubj|.lgb (each library's own model file) and OUT/cases.json: for each case its
file, options, rows (float32 values, NaN as null, infinities as "inf" / "-inf"; many of them exactly at a split threshold, or the
float32 just above or below it, or 0, or NaN) and Booster.predict on those rows.
"""

import json
import os
import sys

import lightgbm as lgb
import numpy as np
import pandas as pd
import xgboost as xgb


XGB_OBJECTIVES = {
    "regression": ["reg:squarederror", "count:poisson", "reg:absoluteerror"],
    "binary": ["binary:logistic", "binary:logitraw", "binary:hinge"],
    "multiclass": ["multi:softprob", "multi:softmax"],
}
LGB_OBJECTIVES = {
    "regression": ["regression", "poisson", "huber"],
    "binary": ["binary", "cross_entropy"],
    "multiclass": ["multiclass", "multiclassova"],
}


def thresholds_xgb(booster):
    out = {}
    frame = booster.trees_to_dataframe()
    for feature, split in zip(frame["Feature"], frame["Split"]):
        if feature != "Leaf" and split == split:
            out.setdefault(feature, []).append(float(split))
    return out


def thresholds_lgb(booster, names):
    out = {}
    frame = booster.trees_to_dataframe()
    for feature, threshold, decision in zip(frame["split_feature"], frame["threshold"], frame["decision_type"]):
        if isinstance(feature, str) and decision == "<=":
            out.setdefault(feature, []).append(float(threshold))
    return out


def rows_for(rng, n, names, cats, thresholds, low=-1):
    """Rows whose values sit on and next to thresholds, at 0, NaN, or anywhere, as float32; categorical
    ones are NaN or integers from `low` to 9 (0 to 7 are the training categories)."""
    data = {}
    for name in names:
        ts = thresholds.get(name, [])
        col = np.empty(n, dtype=np.float64)
        for i in range(n):
            r = rng.random()
            if name in cats:
                col[i] = np.nan if r < 0.1 else float(rng.integers(low, 10 if low < 0 else 8))
            elif ts and r < 0.5:
                t = np.float32(rng.choice(ts))
                col[i] = float(rng.choice([t, np.nextafter(t, np.float32(np.inf)), np.nextafter(t, np.float32(-np.inf))]))
            elif r < 0.6:
                col[i] = 0.0
            elif r < 0.7:
                col[i] = np.nan
            else:
                col[i] = float(np.float32(rng.normal() * 2))
        data[name] = col.astype(np.float32)
    return pd.DataFrame(data)


def cell(v):
    """A float32 value for JSON: NaN as null, infinities as "inf" / "-inf"."""
    if v != v:
        return None
    if v in (np.inf, -np.inf):
        return "inf" if v > 0 else "-inf"
    return float(v)


def case(rng, i, out):
    library = "xgboost" if i % 2 == 0 else "lightgbm"
    k = int(rng.integers(1, 6))
    names = [f"f{j}" for j in range(k)]
    cats = {names[-1]} if k > 1 and rng.random() < 0.4 else set()
    kind = str(rng.choice(["regression", "binary", "multiclass"]))
    n = 400
    x = pd.DataFrame({name: (rng.integers(0, 8, n) if name in cats else np.round(rng.normal(size=n) * 2, 1)).astype(np.float32) for name in names})
    for name in names:
        x.loc[rng.random(n) < 0.1, name] = np.nan
        if name not in cats and rng.random() < 0.5:
            x.loc[rng.random(n) < 0.2, name] = 0.0
    signal = np.nan_to_num(x.to_numpy(dtype=np.float64)).sum(axis=1) + rng.normal(size=n)
    y = {"regression": signal * 10, "binary": (signal > 0).astype(int), "multiclass": np.digitize(signal, [-1, 1])}[kind]
    rounds = int(rng.integers(1, 6))
    depth = int(rng.integers(1, 5))
    info = {"library": library, "kind": kind, "features": names}
    if library == "xgboost":
        frame = x.copy()
        for c in cats:
            frame[c] = pd.Categorical(frame[c].astype("Int64"), categories=list(range(8)))
        params = {"max_depth": depth, "learning_rate": 0.5, "booster": str(rng.choice(["gbtree", "dart"])),
                  "objective": str(rng.choice(XGB_OBJECTIVES[kind])), "max_cat_to_onehot": 1,
                  "num_parallel_tree": int(rng.choice([1, 1, 2]))}
        if params["objective"] == "count:poisson":
            y = np.abs(y)
        if params["objective"] == "reg:absoluteerror":
            params["num_parallel_tree"] = 1  # XGBoost 2 refuses forests for adaptive trees
        if params["booster"] == "dart":
            params.update({"rate_drop": 0.3, "skip_drop": 0.0})
        if kind == "multiclass":
            params["num_class"] = 3
        booster = xgb.train(params, xgb.DMatrix(frame, label=y, enable_categorical=True), num_boost_round=rounds)
        file = f"{i}.{rng.choice(['json', 'ubj'])}"
        booster.save_model(os.path.join(out, file))
        # Categories as XGBoost reads a pandas category column: its codes, here its values 0 to 7.
        rows = rows_for(rng, 200, names, cats, thresholds_xgb(booster), low=0)
        test = rows.copy()
        for c in cats:
            test[c] = pd.Categorical(test[c].astype("Int64"), categories=list(range(8)))
        pred = booster.predict(xgb.DMatrix(test, enable_categorical=True))
        info.update({"booster": params["booster"], "objective": params["objective"]})
    else:
        objective = str(rng.choice(LGB_OBJECTIVES[kind]))
        if objective == "poisson":
            y = np.abs(y)
        params = {"objective": objective,
                  "num_leaves": int(rng.integers(2, 9)), "learning_rate": 0.5, "verbose": -1, "min_data_in_leaf": 5,
                  "use_missing": bool(rng.random() < 0.8), "zero_as_missing": bool(rng.random() < 0.3),
                  "min_data_per_group": 5, "cat_smooth": 1, "max_cat_to_onehot": int(rng.choice([1, 4]))}
        if kind == "multiclass":
            params["num_class"] = 3
        if rng.random() < 0.3:
            params.update({"boosting": "rf", "bagging_fraction": 0.7, "bagging_freq": 1})
        booster = lgb.train(params, lgb.Dataset(x, label=y, categorical_feature=sorted(cats) or "auto"), num_boost_round=rounds)
        file = f"{i}.lgb"
        booster.save_model(os.path.join(out, file))
        rows = rows_for(rng, 200, names, cats, thresholds_lgb(booster, names))
        # Categorical values as LightGBM reads them from a numeric frame: the codes are the values.
        pred = booster.predict(rows)
        info.update({"objective": objective,
                     "params": {k: v for k, v in params.items() if k in ("use_missing", "zero_as_missing", "boosting")}})
    values = rows.to_numpy(dtype=np.float64)
    info.update({
        "file": file,
        "categorical": sorted(cats),
        "rows": [[cell(v) for v in row] for row in values],
        "shape": list(np.shape(pred)),
        "prediction": [float(v) for v in np.ravel(pred)],
    })
    return info


def main(out, seed, count):
    rng = np.random.default_rng(seed)
    os.makedirs(out, exist_ok=True)
    cases = [case(rng, i, out) for i in range(count)]
    versions = {"xgboost": xgb.__version__, "lightgbm": lgb.__version__}
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump({"versions": versions, "cases": cases}, f)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
