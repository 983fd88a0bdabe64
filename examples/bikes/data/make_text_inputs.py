"""Makes inputs_test.csv and inputs_test.jsonl.gz: the rows of hour.csv whose instants are in
inputs_test.parquet, in its order, with all of hour.csv's columns (lines copied unchanged into the CSV).

Run from the repository root: python examples/bikes/data/make_text_inputs.py path/to/hour.csv
"""

import gzip
import json
import sys

import pandas as pd

order = pd.read_parquet("examples/bikes/data/inputs_test.parquet").index.tolist()
lines = open(sys.argv[1]).read().splitlines()
header, rows = lines[0], {int(line.split(",", 1)[0]): line for line in lines[1:]}
columns = header.split(",")
with open("examples/bikes/data/inputs_test.csv", "w", newline="\n") as csv:
    csv.write(header + "\n")
    for instant in order:
        csv.write(rows[instant] + "\n")
with gzip.GzipFile("examples/bikes/data/inputs_test.jsonl.gz", "wb", mtime=0) as jsonl:
    for instant in order:
        values = rows[instant].split(",")
        record = {c: v if c == "dteday" else json.loads(v) for c, v in zip(columns, values)}
        jsonl.write((json.dumps(record, separators=(",", ":")) + "\n").encode())
