"""The Python peer: the reference package's InferenceJob hot path (pandas read, pandera input schema with
coercion, the pickled scikit-learn pipeline's predict, pandera output schema, pandas write). MLflow's
pyfunc load is replaced by unpickling the same fitted pipeline, which favours the peer.

usage: python bench/peer_infer.py INPUTS.parquet PIPELINE.pkl OUTPUTS.parquet [N_JOBS]
  N_JOBS: the forest's n_jobs at predict time (default: as trained, i.e. one thread; -1: all cores)
Prints one JSON line with the phase times on stdout.
"""
import json
import pickle
import sys
import time

import pandas as pd
import pandera.pandas as pa
import pandera.typing.pandas as papd


class Schema(pa.DataFrameModel):
    class Config:
        coerce = True
        strict = True


class InputsSchema(Schema):
    instant: papd.Index[papd.UInt32] = pa.Field(ge=0)
    dteday: papd.Series[papd.DateTime] = pa.Field()
    season: papd.Series[papd.UInt8] = pa.Field(isin=[1, 2, 3, 4])
    yr: papd.Series[papd.UInt8] = pa.Field(ge=0, le=1)
    mnth: papd.Series[papd.UInt8] = pa.Field(ge=1, le=12)
    hr: papd.Series[papd.UInt8] = pa.Field(ge=0, le=23)
    holiday: papd.Series[papd.Bool] = pa.Field()
    weekday: papd.Series[papd.UInt8] = pa.Field(ge=0, le=6)
    workingday: papd.Series[papd.Bool] = pa.Field()
    weathersit: papd.Series[papd.UInt8] = pa.Field(ge=1, le=4)
    temp: papd.Series[papd.Float16] = pa.Field(ge=0, le=1)
    atemp: papd.Series[papd.Float16] = pa.Field(ge=0, le=1)
    hum: papd.Series[papd.Float16] = pa.Field(ge=0, le=1)
    windspeed: papd.Series[papd.Float16] = pa.Field(ge=0, le=1)
    casual: papd.Series[papd.UInt32] = pa.Field(ge=0)
    registered: papd.Series[papd.UInt32] = pa.Field(ge=0)


class OutputsSchema(Schema):
    instant: papd.Index[papd.UInt32] = pa.Field(ge=0)
    prediction: papd.Series[papd.UInt32] = pa.Field(ge=0)


inputs_path, model_path, outputs_path = sys.argv[1:4]
t0 = time.time()
inputs = InputsSchema.validate(pd.read_parquet(inputs_path, dtype_backend="pyarrow"))
t1 = time.time()
with open(model_path, "rb") as f:
    pipeline = pickle.load(f)
if len(sys.argv) > 4:
    pipeline.named_steps["regressor"].n_jobs = int(sys.argv[4])
t2 = time.time()
predictions = pipeline.predict(inputs)
t3 = time.time()
outputs = OutputsSchema.validate(pd.DataFrame({"prediction": predictions}, index=inputs.index))
outputs.to_parquet(outputs_path)
t4 = time.time()
print(json.dumps({"rows": len(outputs), "read_validate_s": t1 - t0, "load_s": t2 - t1, "predict_s": t3 - t2, "write_s": t4 - t3, "total_s": t4 - t0}))
