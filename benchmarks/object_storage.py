"""`inspect` on a bucket against the same bytes on local disk: wall time and peak RSS of each,
their ratio, and whether the two runs found the same examples (manifest keys and splits).

    pip install "moto[server]==5.2.6"
    python benchmarks/object_storage.py [--project PATH] [--rows 30000,300000] [--images 1] [--work DIR]

The bucket is moto's S3 server on 127.0.0.1 (a separate process, sharing the machine's cores):
what it measures is the cost of the object-storage path (HTTP, listing, a read per image file in
the tf.data map) over a local server, not a cloud bucket's latency or bandwidth, which add to it.
The CSVs are common.table_csv's; the image folder is the digits as 1,797 PNGs.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from common import digits_png, machine, project_from_args, table_csv


def more(parser):
    parser.add_argument("--rows", default="30000,300000", help="CSV sizes ('' for none)")
    parser.add_argument("--images", type=int, default=1, help="1: the digits as PNGs, 0: no images")
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "object_storage")


args, project = project_from_args(__doc__, epochs=False, more=more)
PACKAGE = next(p.name for p in (project / "src").iterdir() if (p / "cli.py").exists())


def start_server() -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    return server, f"http://127.0.0.1:{port}"


def inspected(run_dir: Path, settings: list[str], env: dict) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MiB, exit status) of `inspect` as its own process."""
    sets = [part for s in settings for part in ("--set", s)]
    command = ["/usr/bin/time", "-v", sys.executable, "-m", PACKAGE, "inspect", "--run-dir", str(run_dir), *sets]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=project)
    seconds = time.perf_counter() - start
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    if done.returncode not in (0, 1):
        print("   ", done.stderr.strip().splitlines()[-1], flush=True)
    return seconds, int(peak.group(1)) / 1024 if peak else float("nan"), done.returncode


def same_manifest(a: Path, b: Path) -> bool:
    with np.load(a / "data" / "manifest.npz") as x, np.load(b / "data" / "manifest.npz") as y:
        return all(np.array_equal(x[k], y[k]) for k in ("keys", "splits", "labels", "positions"))


def main() -> None:
    import boto3

    print(f"machine: {machine()}")
    server, endpoint = start_server()
    env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(project / "src"), "AWS_ENDPOINT_URL": endpoint,
                        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
    client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="bench", aws_secret_access_key="bench",
                          region_name="us-east-1")
    client.create_bucket(Bucket="bench")
    cases = [(f"CSV {int(n):,} rows", table_csv(args.work, int(n)), ["task=binary", "data.source=csv"])
             for n in filter(None, args.rows.split(","))]
    if args.images:
        cases.append(("digits as 1,797 PNGs", digits_png(args.work / "digits_png"), ["data.source=image_folder"]))
    print("| data | MiB | local s | bucket s | ratio | local peak MiB | bucket peak MiB | same manifest |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    try:
        for name, local, settings in cases:
            files = [local] if local.is_file() else sorted(p for p in local.rglob("*.png"))
            for path in files:
                key = path.name if local.is_file() else f"{local.name}/{path.relative_to(local).as_posix()}"
                client.upload_file(str(path), "bench", key)
            url = f"s3://bench/{local.name}"
            size = sum(p.stat().st_size for p in files) / 2**20
            runs = args.work / "runs"
            near = inspected(runs / f"{local.name}_local", [*settings, f"data.location={local}"], env)
            far = inspected(runs / f"{local.name}_bucket", [*settings, f"data.location={url}"], env)
            same = same_manifest(runs / f"{local.name}_local", runs / f"{local.name}_bucket")
            print(f"| {name} | {size:.1f} | {near[0]:.1f} | {far[0]:.1f} | {far[0] / near[0]:.2f} | {near[1]:.0f} | "
                  f"{far[1]:.0f} | {'yes' if same else 'NO'} |", flush=True)
    finally:
        server.terminate()


main()
