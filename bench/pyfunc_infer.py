"""MLflow's own batch path over the same ONNX model: pandas read, mlflow.pyfunc.load_model on the
registered model (the onnx flavor, run by onnxruntime), predict (pyfunc's schema enforcement included),
pandas write.

usage: python bench/pyfunc_infer.py TRACKING_URI MODEL_URI INPUTS.parquet OUTPUTS.parquet
Prints one JSON line with the phase times on stdout.
"""
import json
import sys
import time

import mlflow
import pandas as pd

tracking_uri, model_uri, inputs_path, outputs_path = sys.argv[1:5]
mlflow.set_tracking_uri(tracking_uri)
t0 = time.time()
inputs = pd.read_parquet(inputs_path)
t1 = time.time()
model = mlflow.pyfunc.load_model(model_uri)
t2 = time.time()
predictions = model.predict(inputs)
t3 = time.time()
pd.DataFrame({"prediction": pd.DataFrame(predictions).iloc[:, 0].to_numpy().ravel()}, index=inputs.index).to_parquet(outputs_path)
t4 = time.time()
print(json.dumps({"rows": len(inputs), "read_s": t1 - t0, "load_s": t2 - t1, "predict_s": t3 - t2, "write_s": t4 - t3, "total_s": t4 - t0}))
