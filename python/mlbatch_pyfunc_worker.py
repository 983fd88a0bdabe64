"""mlbatch's pyfunc worker: one MLflow model, loaded once, predicting Arrow record batches.

mlbatch (Node) starts it as ``python mlbatch_pyfunc_worker.py <model folder> <outputs JSON>`` and talks to it
over its stdin and stdout, in frames: a little-endian uint32 length, then that many bytes, the first a kind:

- Node -> worker: ``B`` + an Arrow IPC stream (the batch's feature columns).
- worker -> Node: ``R`` + JSON (ready: the model loaded; the versions), ``O`` + an Arrow IPC stream (the
  predictions, one column per output asked, as typed), ``E`` + text (the model raised: its traceback; the
  worker goes on), ``F`` + text (the model cannot be loaded: its traceback; the worker exits).

The model's own prints go to stderr (fd 1 is moved there), so nothing but frames reaches Node's pipe. The
worker exits when its stdin closes, and dies with its parent (PR_SET_PDEATHSIG on Linux, and a watchdog
that sees the parent change), so no worker outlives a kill -9 of Node. SIGINT is Node's to handle.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import sys
import threading
import time
import traceback


def _die_with_parent() -> None:
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except Exception:  # noqa: BLE001 - the watchdog below covers it
            pass

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(70)

    threading.Thread(target=watch, name="mlbatch-parent-watchdog", daemon=True).start()


def _protocol_streams():
    """The frames' pipes, apart from the model's prints: fd 1 becomes a copy of stderr."""
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return sys.stdin.buffer, out


def _read_exact(stream, n: int) -> bytes | None:
    chunks, left = [], n
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _send(out, kind: bytes, payload: bytes) -> None:
    out.write(struct.pack("<I", len(payload) + 1) + kind)
    # Large payloads in pieces: a pipe write of hundreds of MB at once is slow on some kernels.
    view = memoryview(payload)
    for start in range(0, len(view), 1 << 22):
        out.write(view[start : start + (1 << 22)])


def _arrow_type(pa, name: str):
    return {
        "float32": pa.float32(),
        "float64": pa.float64(),
        "int8": pa.int8(),
        "int16": pa.int16(),
        "int32": pa.int32(),
        "int64": pa.int64(),
        "uint8": pa.uint8(),
        "bool": pa.bool_(),
        "string": pa.string(),
    }[name]


def _columns(result, outputs, rows: int):
    """What the model returned, as one sequence per output: by name when it names them, else by position.

    As MLflow's spark_udf: a DataFrame's first column for one output that it does not name; a Series, a 1-D
    array or a list for one output; a 2-D array's columns by position; a dict of arrays or a list of dicts as
    a DataFrame.
    """
    import numpy as np
    import pandas as pd

    names = [o["name"] for o in outputs]
    if isinstance(result, dict):
        result = pd.DataFrame({k: np.asarray(v).reshape(-1) if np.ndim(v) != 1 else v for k, v in result.items()})
    elif isinstance(result, list) and result and isinstance(result[0], dict):
        result = pd.DataFrame(result)
    if isinstance(result, pd.DataFrame):
        if all(n in result.columns for n in names):
            cols = [result[n] for n in names]
        elif len(names) == 1:
            cols = [result.iloc[:, 0]]
        elif result.shape[1] == len(names):
            cols = [result.iloc[:, j] for j in range(len(names))]
        else:
            raise ValueError(
                f"the model returned a DataFrame of columns {list(result.columns)}; mlbatch expected {names}"
            )
    elif isinstance(result, pd.Series):
        cols = [result]
    else:
        array = np.asarray(result)
        if array.ndim <= 1:
            cols = [array.reshape(-1)]
        elif array.ndim == 2 and (array.shape[1] == len(names) or len(names) == 1):
            cols = [array[:, j] for j in range(len(names))]
        else:
            raise ValueError(f"the model returned an array of shape {array.shape}; mlbatch expected {len(names)} columns")
    if len(cols) < len(names):
        raise ValueError(f"the model returned {len(cols)} column(s); mlbatch expected {names}")
    for name, col in zip(names, cols):
        if len(col) != rows:
            raise ValueError(f"the model returned {len(col)} values for output {name!r}, for {rows} input rows")
    return cols[: len(names)]


def _to_arrow(pa, values, type_name: str):
    import numpy as np
    import pandas as pd

    values = values.to_numpy() if isinstance(values, (pd.Series, pd.Index)) else np.asarray(values)
    if type_name == "string":
        as_text = [None if v is None else v if isinstance(v, str) else str(v) for v in values.tolist()]
        return pa.array(as_text, type=pa.string())
    if type_name == "bool":
        return pa.array(values.astype(bool), type=pa.bool_())
    return pa.array(values.astype(type_name), type=_arrow_type(pa, type_name))


def _predict(model, pa, payload: bytes, outputs) -> bytes:
    table = pa.ipc.open_stream(payload).read_all()
    frame = table.to_pandas()
    result = model.predict(frame)
    cols = _columns(result, outputs, table.num_rows)
    arrays = [_to_arrow(pa, col, o["type"]) for col, o in zip(cols, outputs)]
    batch = pa.record_batch(arrays, names=[o["name"] for o in outputs])
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def main() -> int:
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stdin, out = _protocol_streams()
    model_dir, outputs = sys.argv[1], json.loads(sys.argv[2])
    try:
        import mlflow
        import mlflow.pyfunc
        import pyarrow as pa

        model = mlflow.pyfunc.load_model(model_dir)
    except BaseException:  # noqa: BLE001 - whatever stops the load is reported to Node
        _send(out, b"F", _tail(traceback.format_exc()).encode())
        return 1
    ready = {"python": sys.version.split()[0], "mlflow": mlflow.__version__, "pyarrow": pa.__version__}
    _send(out, b"R", json.dumps(ready).encode())
    while True:
        header = _read_exact(stdin, 4)
        if header is None:
            return 0
        (length,) = struct.unpack("<I", header)
        frame = _read_exact(stdin, length)
        if frame is None:
            return 0
        try:
            _send(out, b"O", _predict(model, pa, frame[1:], outputs))
        except BrokenPipeError:
            return 0
        except Exception:  # noqa: BLE001 - the model's failure goes back with its traceback
            _send(out, b"E", _tail(traceback.format_exc()).encode())


if __name__ == "__main__":
    sys.exit(main())
