"""Read MLflow runs back with MLflow itself, for mlbatch's tracking tests (test/tracking/*.test.ts).

For each run id: the run as ``MlflowClient.get_run`` gives it (info, params, metrics, tags), its metric
histories, its experiment, whether ``search_runs`` finds it by name, and its artifacts as
``list_artifacts`` lists them and ``download_artifacts`` downloads them (text). Prints one JSON object:
``{"mlflow_version": ..., "runs": {run_id: {...}}}``. Non-finite metric values are given as the strings
"nan", "inf", "-inf" (JSON has no such numbers).

Usage: python read_run.py TRACKING_URI DOWNLOAD_DIR RUN_ID [RUN_ID ...]
"""

from __future__ import annotations

import json
import math
import os
import sys

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 refuses file stores without it

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402


def number(value: float) -> float | str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def read(client: MlflowClient, run_id: str, download_dir: str) -> dict:
    run = client.get_run(run_id)
    info = run.info
    experiment = client.get_experiment(info.experiment_id)
    artifacts: dict[str, str] = {}

    def walk(path: str | None = None) -> None:
        for entry in client.list_artifacts(run_id, path):
            if entry.is_dir:
                walk(entry.path)
            else:
                local = client.download_artifacts(run_id, entry.path, download_dir)
                with open(local, encoding="utf-8") as file:
                    artifacts[entry.path] = file.read()

    walk()
    found = client.search_runs(
        [info.experiment_id], filter_string=f"attributes.run_name = '{info.run_name}'"
    )
    return {
        "info": {
            "run_id": info.run_id,
            "run_name": info.run_name,
            "experiment_id": info.experiment_id,
            "user_id": info.user_id,
            "status": info.status,
            "start_time": info.start_time,
            "end_time": info.end_time,
            "lifecycle_stage": info.lifecycle_stage,
            "artifact_uri": info.artifact_uri,
        },
        "experiment": {
            "experiment_id": experiment.experiment_id,
            "name": experiment.name,
            "artifact_location": experiment.artifact_location,
            "lifecycle_stage": experiment.lifecycle_stage,
        },
        "params": run.data.params,
        "metrics": {key: number(value) for key, value in run.data.metrics.items()},
        "metric_history": {
            key: [[m.timestamp, number(m.value), m.step] for m in client.get_metric_history(run_id, key)]
            for key in run.data.metrics
        },
        "tags": run.data.tags,
        "searched": [r.info.run_id for r in found],
        "artifacts": artifacts,
    }


def main() -> None:
    tracking_uri, download_dir, *run_ids = sys.argv[1:]
    client = MlflowClient(tracking_uri=tracking_uri)
    for run_id in run_ids:
        os.makedirs(os.path.join(download_dir, run_id), exist_ok=True)
    runs = {run_id: read(client, run_id, os.path.join(download_dir, run_id)) for run_id in run_ids}
    print(json.dumps({"mlflow_version": mlflow.__version__, "runs": runs}))


if __name__ == "__main__":
    main()
