"""Random small tree models trained by scikit-learn, for test/native/sklearn-random.test.ts.

    python sklearn_random.py OUT_DIR SEED COUNT

Writes OUT_DIR/case<i>.skops (skops.io.dump of the fitted model) and OUT_DIR/cases.json: per case the
estimator, the rows (``rows``, NaN as null; or ``columns`` of a DataFrame, None as null) and
scikit-learn's predict (and predict_proba for classifiers). Tree inputs come from small grids, so that
rows fall on and near the thresholds (the midpoints of grid values), plus values off the grid and NaNs
where the estimator takes them. Every sixth case is a random pipeline: a ColumnTransformer of imputers,
one-hot (infrequent categories, unknown ones) and ordinal encoders (strings with None and unseen values) and scalers, then a linear model or
trees.
"""

import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

KINDS = ["dt", "rf", "et", "gb", "hgb", "pipe"]
WORDS = np.array(["red", "green", "blue", "cyan", "", "magenta"], dtype=object)


def data(rng, n, features, nan):
    grids = [np.round(rng.normal(size=rng.integers(3, 12)), 3) * 10.0 ** rng.integers(-3, 4) for _ in range(features)]
    x = np.column_stack([rng.choice(g, size=n) for g in grids]).astype(np.float64)
    if nan:
        x[rng.random(x.shape) < 0.1] = np.nan
    return x, grids


def rows(rng, grids, n, nan):
    x = np.column_stack([rng.choice(g, size=n) for g in grids]).astype(np.float64)
    # Midpoints of grid values (where splits are), and values off the grid.
    for j, g in enumerate(grids):
        s = np.sort(g)
        mids = (s[1:] + s[:-1]) / 2 if len(s) > 1 else s
        pick = rng.random(n) < 0.3
        x[pick, j] = rng.choice(mids, size=pick.sum())
        off = rng.random(n) < 0.1
        x[off, j] = rng.normal(size=off.sum()) * 100
    if nan:
        x[rng.random(x.shape) < 0.1] = np.nan
    return x


def model(rng, kind, classes):
    depth = int(rng.integers(1, 7))
    seed = int(rng.integers(1 << 30))
    n = int(rng.integers(1, 6))
    if kind == "dt":
        return (DecisionTreeClassifier if classes else DecisionTreeRegressor)(max_depth=depth, random_state=seed)
    if kind == "rf":
        return (RandomForestClassifier if classes else RandomForestRegressor)(n, max_depth=depth, random_state=seed)
    if kind == "et":
        return (ExtraTreesClassifier if classes else ExtraTreesRegressor)(n, max_depth=depth, random_state=seed)
    if kind == "gb":
        cls = GradientBoostingClassifier if classes else GradientBoostingRegressor
        return cls(n_estimators=n * 3, max_depth=depth, learning_rate=float(rng.uniform(0.05, 1)),
                   init=None if rng.random() < 0.7 else "zero", random_state=seed)
    cls = HistGradientBoostingClassifier if classes else HistGradientBoostingRegressor
    extra = {} if classes else {"loss": str(rng.choice(["squared_error", "poisson", "absolute_error"]))}
    return cls(max_iter=n * 3, max_depth=depth + 1, learning_rate=float(rng.uniform(0.05, 1)),
               early_stopping=False, random_state=seed, **extra)


def strings(rng, n, vocabulary):
    """Words with None (a missing string) here and there."""
    weights = np.array([0.5, 0.3, 0.15, 0.05, 0.0, 0.0])[:vocabulary]
    values = rng.choice(WORDS[:vocabulary], size=n, p=weights / weights.sum()).astype(object)
    values[rng.random(n) < 0.1] = None
    return values


def frame(rng, n, unseen):
    df = pd.DataFrame({
        "s0": strings(rng, n, 4),
        "n0": np.round(rng.normal(size=n), 2),
        "s1": strings(rng, n, 3),
        "n1": rng.choice([0.5, 1.5, 2.25, np.nan], size=n),
        "i0": rng.integers(0, 5, size=n).astype(np.float64),
    })
    if unseen:
        df.loc[rng.random(n) < 0.15, "s0"] = "unseen"
        df.loc[rng.random(n) < 0.15, "s1"] = "other"
    return df


def pipeline(rng, classes):
    """A random preprocessing pipeline of the transformers mlbatch reproduces, and a random final estimator."""
    impute = str(rng.choice(["mean", "median", "most_frequent", "constant"]))
    scaler = StandardScaler() if rng.random() < 0.5 else MinMaxScaler(clip=bool(rng.random() < 0.5))
    drop = [None, "first", "if_binary"][int(rng.integers(3))]
    steps = ColumnTransformer(
        [
            ("cat", Pipeline([
                ("fill", SimpleImputer(strategy="most_frequent" if rng.random() < 0.5 else "constant",
                                       fill_value="zz", missing_values=None, add_indicator=bool(rng.random() < 0.3))),
                ("onehot", OneHotEncoder(
                    handle_unknown=str(rng.choice(["ignore", "infrequent_if_exist"])), drop=drop,
                    min_frequency=[None, 30, 0.1][int(rng.integers(3))], sparse_output=bool(rng.random() < 0.5))),
            ]), ["s0"]),
            ("ord", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                   encoded_missing_value=-2), ["s1"]),
            ("num", Pipeline([("fill", SimpleImputer(strategy=impute, fill_value=0.25,
                                                     add_indicator=bool(rng.random() < 0.5))),
                              ("scale", scaler)]),
             ["n0", "n1"]),
        ],
        remainder="passthrough" if rng.random() < 0.5 else "drop",
    )
    seed = int(rng.integers(1 << 30))
    if classes:
        final = [LogisticRegression(max_iter=300), LogisticRegression(solver="liblinear"),
                 DecisionTreeClassifier(max_depth=4, random_state=seed),
                 RandomForestClassifier(3, max_depth=4, random_state=seed),
                 HistGradientBoostingClassifier(max_iter=5, random_state=seed)][int(rng.integers(5))]
    else:
        final = [LinearRegression(), Ridge(alpha=float(rng.uniform(0.1, 3))), Lasso(alpha=0.05),
                 ElasticNet(alpha=0.05, l1_ratio=0.3),
                 DecisionTreeRegressor(max_depth=4, random_state=seed)][int(rng.integers(5))]
    return Pipeline([("prep", steps), ("model", final)])


def clean(values):
    return [[None if isinstance(v, float) and math.isnan(v) else v for v in row] if isinstance(row, list)
            else (None if isinstance(row, float) and math.isnan(row) else row) for row in values]


def main():
    out, seed, count = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        classes = int(rng.choice([0, 2, 3, 4]))
        if kind == "pipe":
            x = frame(rng, 400, False)
            y = (x["n0"].to_numpy() * 2 + x["i0"].to_numpy() + rng.normal(size=len(x)))
            if classes:
                y = np.digitize(y, np.quantile(y, np.linspace(0, 1, classes + 1)[1:-1]))
            estimator = pipeline(rng, classes).fit(x, y)
            test = frame(rng, 200, True)
            sio.dump(estimator, out / f"case{i}.skops")
            case = {"estimator": " > ".join(type(s).__name__ for _, s in estimator.steps[-1:]) + " pipeline",
                    "columns": {c: clean(test[c].tolist()) for c in test.columns},
                    "predict": clean(estimator.predict(test).tolist())}
            if classes:
                case["proba"] = estimator.predict_proba(test).tolist()
            cases.append(case)
            continue
        nan = kind in ("dt", "rf", "hgb") and rng.random() < 0.6
        features = int(rng.integers(1, 6))
        x, grids = data(rng, 400, features, nan)
        if classes:
            y = rng.integers(0, classes, size=len(x))
            if rng.random() < 0.5:
                y = np.array(["a", "b", "c", "d"])[y]
        else:
            y = np.abs(np.nan_to_num(x, nan=0.5) @ rng.normal(size=features) + rng.normal(size=len(x)))
        estimator = model(rng, kind, classes)
        if kind == "hgb" and features > 1 and rng.random() < 0.5:
            # A categorical feature: small non-negative integers.
            x[:, 0] = rng.integers(0, 6, size=len(x)).astype(np.float64)
            grids[0] = np.arange(0, 7, dtype=np.float64)
            estimator.set_params(categorical_features=[0])
        estimator.fit(x, y)
        test = rows(rng, grids, 200, nan)
        if kind == "hgb" and estimator.get_params().get("categorical_features") is not None:
            test[:, 0] = np.where(np.isnan(test[:, 0]), np.nan, rng.integers(0, 7, size=len(test)))
        sio.dump(estimator, out / f"case{i}.skops")
        case = {"estimator": type(estimator).__name__, "rows": clean(test.tolist()),
                "predict": clean(estimator.predict(test).tolist())}
        if classes:
            case["proba"] = estimator.predict_proba(test).tolist()
        cases.append(case)
    (out / "cases.json").write_text(json.dumps(cases))


if __name__ == "__main__":
    main()
