"""mlbatch's pyfunc workers: one MLflow model, loaded once, forked into N workers predicting Arrow batches.

mlbatch (Node) starts the zygote as ``python mlbatch_pyfunc_worker.py <N>``, with 2N pipes beyond stdio:
worker i's channel (fd 3+2i, a socket both ways) and its stderr (fd 4+2i). The zygote imports mlflow and
pyarrow first, which takes seconds, so Node may start it before it knows the model; then it reads which
model to load from its stdin, loads it once (``mlflow.pyfunc.load_model``) and forks the N workers: each
keeps its two pipes and nothing else of Node's. Frames are a little-endian uint32 length, then that many
bytes, the first a kind:

- Node -> zygote (its stdin): ``L`` + JSON (the model folder, ``model_dir``, and the outputs asked,
  ``outputs``), once; if stdin closes before it comes, the zygote exits (code 0) and loads nothing.
- Node -> worker (its channel): ``B`` + an Arrow IPC stream (the batch's feature columns).
- worker -> Node (its channel): ``O`` + an Arrow IPC stream (the predictions, one column per output asked,
  as typed), ``E`` + text (the model raised: its traceback; the worker goes on).
- zygote -> Node (its stdout): ``R`` + JSON (ready: the versions, the workers' pids), ``F`` + text (the model
  cannot be loaded: its traceback; the zygote exits), ``X`` + JSON (a worker exited: its pid, its exit code
  or signal).

The model's own prints go to stderr (fd 1 is moved there), so nothing but frames reaches Node's pipes. A
worker exits when its channel closes; the zygote kills the workers and exits when its stdin closes. Each
dies with its parent (PR_SET_PDEATHSIG on Linux, and a watchdog that sees the parent change), so no Python
process outlives a kill -9 of Node. SIGINT is Node's to handle.
"""

from __future__ import annotations

import gc
import io
import json
import os
import signal
import struct
import sys
import threading
import time
import traceback


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except Exception:  # noqa: BLE001 - the watchdog below covers it
            pass

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(70)
            time.sleep(0.5)

    threading.Thread(target=watch, name="mlbatch-parent-watchdog", daemon=True).start()


def _protocol_stream():
    """The zygote's frames to Node, apart from the model's prints: fd 1 becomes a copy of stderr."""
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out


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
    _write_all(out, struct.pack("<I", len(payload) + 1) + kind)
    _write_all(out, payload)


def _write_all(out, data: bytes) -> None:
    # A raw write may take part of it (a socket, a signal); large payloads go in pieces of 4 MB.
    view = memoryview(data)
    while len(view) > 0:
        view = view[out.write(view[: 1 << 22]) :]


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


def _serve(model, pa, channel: int, outputs) -> int:
    """A forked worker's loop: one batch at a time over its channel, until Node closes it."""
    stream = os.fdopen(channel, "r+b", buffering=0)
    reader = io.BufferedReader(stream, 1 << 20)
    while True:
        header = _read_exact(reader, 4)
        if header is None:
            return 0
        (length,) = struct.unpack("<I", header)
        frame = _read_exact(reader, length)
        if frame is None:
            return 0
        try:
            _send(stream, b"O", _predict(model, pa, frame[1:], outputs))
        except BrokenPipeError:
            return 0
        except Exception:  # noqa: BLE001 - the model's failure goes back with its traceback
            try:
                _send(stream, b"E", _tail(traceback.format_exc()).encode())
            except BrokenPipeError:
                return 0


def _fork_worker(model, pa, index: int, workers: int, outputs, control) -> int:
    """Forks worker ``index``: it keeps its channel and its stderr, and nothing else of Node's pipes."""
    channel, stderr = 3 + 2 * index, 4 + 2 * index
    zygote = os.getpid()
    pid = os.fork()
    if pid != 0:
        return pid
    code = 70
    try:
        gc.enable()
        _die_with_parent(zygote)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(stderr, 2)
        os.dup2(stderr, 1)
        for fd in [*range(3, 3 + 2 * workers), control.fileno(), devnull]:
            if fd != channel:
                os.close(fd)
        code = _serve(model, pa, channel, outputs)
    except BaseException:  # noqa: BLE001 - a worker never returns into the zygote's code
        traceback.print_exc()
    finally:
        sys.stderr.flush()
        os._exit(code)


def _dependency_warnings(mlflow, model_dir: str) -> None:
    """MLflow's load-time warnings (the model's requirements against this Python), once, after the fork."""
    try:
        from mlflow.pyfunc import _get_pip_requirements_from_model_path
        from mlflow.utils.requirements_utils import warn_dependency_requirement_mismatches

        warn_dependency_requirement_mismatches(_get_pip_requirements_from_model_path(model_dir))
    except Exception:  # noqa: BLE001 - warnings only
        pass


def _supervise(pids: list[int], control) -> threading.Thread:
    """The zygote after the fork, in threads: reports each worker's exit to Node; ends them all when Node goes.

    Returns the reporting thread, which ends once every worker has exited.
    """

    def on_node_gone() -> None:
        while sys.stdin.buffer.read(1 << 16):
            pass
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os._exit(0)

    def report() -> None:
        left = set(pids)
        while left:
            pid, status = os.waitpid(-1, 0)
            if pid not in left:
                continue
            left.discard(pid)
            if os.WIFSIGNALED(status):
                exit_status = {"pid": pid, "signal": signal.Signals(os.WTERMSIG(status)).name}
            else:
                exit_status = {"pid": pid, "code": os.WEXITSTATUS(status)}
            try:
                _send(control, b"X", json.dumps(exit_status).encode())
            except BrokenPipeError:
                pass

    threading.Thread(target=on_node_gone, name="mlbatch-node-watch", daemon=True).start()
    reporter = threading.Thread(target=report, name="mlbatch-worker-exits", daemon=True)
    reporter.start()
    return reporter


def _load_request() -> dict | None:
    """What Node asks the zygote to load (an ``L`` frame on stdin), or None when stdin closes first."""
    header = _read_exact(sys.stdin.buffer, 4)
    if header is None:
        return None
    (length,) = struct.unpack("<I", header)
    frame = _read_exact(sys.stdin.buffer, length)
    if frame is None or frame[:1] != b"L":
        return None
    return json.loads(frame[1:])


def main() -> int:
    # No cyclic garbage collection while mlflow, pandas and the model are imported and loaded: their
    # thousands of objects made the collector run over and over (in-process, import + load, 8 alternated
    # runs twice: medians 3.45 s with it, 2.95 s without; then 3.36 s and 3.06 s). What they built is frozen before the fork (the workers'
    # collector then never walks, nor dirties, the pages they share with the zygote), and each worker
    # collects its own garbage again.
    gc.disable()
    _die_with_parent(os.getppid())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    control = _protocol_stream()
    workers = int(sys.argv[1])
    try:
        import mlflow
        import mlflow.pyfunc
        import pyarrow as pa

        request = _load_request()
        if request is None:
            # Node went on without this model (its job failed first): nothing to load, nothing to report.
            os._exit(0)
        model_dir, outputs = request["model_dir"], request["outputs"]
        # Its warnings come after the fork, from the zygote: the workers need not wait for them.
        model = mlflow.pyfunc.load_model(model_dir, suppress_warnings=True)
    except BaseException:  # noqa: BLE001 - whatever stops the load is reported to Node
        _send(control, b"F", _tail(traceback.format_exc()).encode())
        return 1
    sys.stderr.flush()
    gc.freeze()
    pids = [_fork_worker(model, pa, i, workers, outputs, control) for i in range(workers)]
    for fd in range(3, 3 + 2 * workers):
        os.close(fd)
    ready = {
        "python": sys.version.split()[0],
        "mlflow": mlflow.__version__,
        "pyarrow": pa.__version__,
        "pids": pids,
    }
    _send(control, b"R", json.dumps(ready).encode())
    # The zygote only watches from now (the workers' exits reported even while the warnings below run), at
    # the lowest priority: its warnings take no CPU from the workers.
    gc.enable()
    reporter = _supervise(pids, control)
    os.nice(19)
    _dependency_warnings(mlflow, model_dir)
    reporter.join()
    # Straight out: an interpreter shutdown would tear down mlflow's modules (seconds) under a thread still
    # reading stdin, and abort.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
