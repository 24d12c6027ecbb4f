#!/usr/bin/env python3
"""reencode_levels.py FILE.parquet [LEVEL ...]

Writes a Parquet file again with pyarrow at each zstd level (default 3 9 15 19), the row
groups as they are, 64 KiB pages, and prints each copy's size, the CPU of the write and
the time of a whole read: what a denser layout of a spans or logs file would save and
cost (docs/benchmarks-history.md, "Spans and logs at higher zstd levels"). pyarrow's
writer is not Strata's (its maps and dictionaries differ), so compare the levels with one
another, not with the original file.
"""
import os
import sys
import tempfile
import time

import pyarrow.parquet as pq


def main():
    path = sys.argv[1]
    levels = [int(x) for x in sys.argv[2:]] or [3, 9, 15, 19]
    meta = pq.ParquetFile(path).metadata
    table = pq.read_table(path)
    print(f"{path}: {meta.num_rows:,} rows, {meta.num_row_groups} row groups, {os.path.getsize(path):,} B")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "x.parquet")
        for level in levels:
            t0 = time.process_time()
            pq.write_table(table, out, compression="zstd", compression_level=level,
                           row_group_size=meta.row_group(0).num_rows, data_page_size=64 * 1024)
            cpu = time.process_time() - t0
            t0 = time.perf_counter()
            pq.read_table(out)
            read = time.perf_counter() - t0
            print(f"zstd {level:2}: {os.path.getsize(out):>13,} B  write CPU {cpu:7.2f} s  read {read:6.3f} s")


if __name__ == "__main__":
    main()
