"""Data and runs in a bucket: `data.location`, `--run-dir` and `predict` on an S3 API (moto's server
on 127.0.0.1, spoken to over HTTP as a cloud bucket is; nothing of ours patched), and gs:// URLs on
a local Google Cloud Storage server (gcp-storage-emulator). A CSV in the
bucket gives the same manifest as the same bytes on disk; `inspect`, `train`, `evaluate` and
`predict` run with data and run folder in the bucket, each stage reading what the one before left
there, predictions.csv written to the bucket; a training killed with SIGKILL resumes from the
backup it left in the bucket; an image folder and an .npz read from the bucket give the manifests
of their local copies; a bad URL, a missing bucket, a missing object, missing credentials and
denied access are each one line naming the URL, exit 2, and nothing written."""

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.config import load_config
from {{ cookiecutter.package_name }}.data import prepare

TINY = ["train.epochs=2", "train.min_steps=0", "model.hidden_units=8"]
AWS_SETTINGS = ("AWS_PROFILE", "AWS_REGION", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE",
                "AWS_SHARED_CREDENTIALS_FILE")


def flags(settings: list[str]) -> list[str]:
    return [part for setting in settings for part in ("--set", setting)]


class Bucket:
    """A bucket on the test's S3 endpoint, filled and read with boto3 (the AWS SDK, not our code)."""

    def __init__(self, client, name: str):
        self.client, self.name = client, name

    def put(self, key: str, data: bytes) -> str:
        self.client.put_object(Bucket=self.name, Key=key, Body=data)
        return f"s3://{self.name}/{key}"

    def put_folder(self, folder: Path, prefix: str) -> str:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            self.put(f"{prefix}/{path.relative_to(folder).as_posix()}", path.read_bytes())
        return f"s3://{self.name}/{prefix}"

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def keys(self, prefix: str) -> set[str]:
        """Every file's key under `prefix`, without it (not the empty folder markers, "backup/",
        that pyarrow's S3 client keeps so that a folder outlives its last file)."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix)
        return {item["Key"][len(prefix):] for page in pages for item in page.get("Contents", [])
                if not item["Key"].endswith("/")}


@pytest.fixture(scope="module")
def endpoint():
    """moto's S3 server in this process, on a free port of 127.0.0.1."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def point_aws_at(monkeypatch, endpoint: str, key: str | None = "testing") -> None:
    """The environment a team's machine would have: credentials, a region, the endpoint of an
    S3-compatible store; nothing else of the AWS settings of the machine running the tests."""
    for name in AWS_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    if key is None:
        monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
        monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    else:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key)


@pytest.fixture()
def bucket(endpoint, monkeypatch):
    import boto3

    point_aws_at(monkeypatch, endpoint)
    client = boto3.client("s3", endpoint_url=endpoint)
    name = f"data-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=name)
    return Bucket(client, name)


def table_csv(rows: int, seed: int = 0) -> bytes:
    """A size (a few missing), a colour of three levels, a label that follows both."""
    rng = np.random.default_rng(seed)
    lines = ["key,size,colour,label"]
    for i in range(rows):
        size, colour = rng.lognormal(3, 0.5), rng.choice(["red", "green", "blue"])
        label = "yes" if size + 10 * (colour == "red") + rng.normal(0, 5) > 25 else "no"
        lines.append(f"id{i},{'' if rng.random() < 0.03 else f'{size:.3f}'},{colour},{label}")
    return ("\n".join(lines) + "\n").encode()


def manifest_of(settings: list[str]):
    return prepare(load_config(None, settings)).manifest


def same_examples(a, b) -> None:
    for name in ("positions", "keys", "splits", "labels", "sizes"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_a_csv_in_a_bucket_runs_the_recipe_as_from_disk(bucket, in_tmp):
    data = table_csv(500)
    local = in_tmp / "table.csv"
    local.write_bytes(data)
    url = bucket.put("tables/table.csv", data)
    sets = ["task=binary", "data.source=csv", *TINY]
    same_examples(manifest_of([*sets, f"data.location={url}"]), manifest_of([*sets, f"data.location={local}"]))

    # The run folder in the bucket too: each stage works in a fresh local copy of it, so each
    # reads what the stage before left in the bucket, never this machine's files.
    run_url = f"s3://{bucket.name}/runs/first"
    run = ["--run-dir", run_url, *flags([*sets, f"data.location={url}"])]
    for stage in ("inspect", "train", "evaluate"):
        assert main([stage, *run]) in (0, 1), stage
    held = bucket.keys("runs/first/")
    assert {"data/manifest.npz", "checkpoints/best.keras", "export/predict.json", "train_config.yaml", "history.csv",
            "verdicts.json"} <= held
    assert not [key for key in held if key.startswith("backup/") or key.endswith((".partial", ".old"))]
    stages = {verdict["stage"] for verdict in json.loads(bucket.get("runs/first/verdicts.json"))}
    assert {"inspect", "train", "evaluate"} <= stages
    # predict: new rows read from the bucket, predictions.csv written to it, as from and to disk.
    assert main(["predict", "--run", run_url, "--out", str(in_tmp / "local.csv"), str(local)]) in (0, 1)
    assert main(["predict", "--run", run_url, "--out", f"s3://{bucket.name}/out/predictions.csv", url]) in (0, 1)
    sent = bucket.get("out/predictions.csv").decode()
    assert sent == (in_tmp / "local.csv").read_text()
    assert len(sent.splitlines()) == 501
    assert not (in_tmp / "runs").exists()  # nothing of the run left on this machine


def test_a_training_killed_resumes_from_its_backup_in_the_bucket(bucket, in_tmp, capsys):
    """SIGKILL once an epoch's files reached the bucket; a fresh process (a new machine: no
    local copy) resumes from the bucket's backup and logs every epoch once."""
    run_url = f"s3://{bucket.name}/runs/killed"
    settings = ["train.epochs=4", "train.min_steps=0", "train.export=false", "data.source=digits",
                "task=classification", "model.builder=mlp", "model.hidden_units=16", "monitor.activation_health=false"]
    command = [sys.executable, "-m", "{{ cookiecutter.package_name }}", "train", "--run-dir", run_url,
               *flags(settings)]
    process = subprocess.Popen(command, env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline, killed_at = time.monotonic() + 240, None
    try:
        while time.monotonic() < deadline and process.poll() is None and killed_at is None:
            if "backup/latest.json" in bucket.keys("runs/killed/"):
                record = json.loads(bucket.get("runs/killed/backup/latest.json"))
                if record["epoch"] >= 2:
                    process.send_signal(signal.SIGKILL)
                    process.wait(30)
                    killed_at = record
            time.sleep(0.1)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert killed_at is not None, process.stderr.read()[-2000:]
    capsys.readouterr()
    assert main(["train", "--run-dir", run_url, *flags(settings)]) in (0, 1)
    assert f"resuming from the backup at step {killed_at['global_step']}" in capsys.readouterr().out
    epochs = [line.split(",")[0] for line in bucket.get("runs/killed/history.csv").decode().splitlines()[1:]]
    assert epochs == ["0", "1", "2", "3"]
    assert not [key for key in bucket.keys("runs/killed/") if key.startswith("backup/")]


def test_a_push_sends_files_in_the_order_they_were_written(bucket, monkeypatch):
    """A file that names another is written after it (the backup's latest.json after its
    weights): sent in any other order, a kill between two uploads left a pointer in the bucket
    to weights that never arrived, and the resumed run failed on a missing file."""
    from {{ cookiecutter.package_name }} import bucket_runs

    sent = []
    real_upload = bucket_runs.upload

    def recorded(local, target):  # the upload itself is the real one, to the S3 endpoint
        sent.append(target.path.rsplit("/runs/order/", 1)[1])
        real_upload(local, target)

    monkeypatch.setattr(bucket_runs, "upload", recorded)
    rng = np.random.default_rng(0)
    names = [f"backup/{name}" for name in rng.permutation([f"step-{i:03d}.npz" for i in range(12)] + ["latest.json"])]
    with bucket_runs.run_dir_in_bucket(f"s3://{bucket.name}/runs/order") as local:
        (local / "backup").mkdir()
        for name in sorted(names):  # created in name order, stamped in another order
            (local / name).write_text(name)
        for second, name in enumerate(names):
            os.utime(local / name, ns=(10**9 * (1 + second),) * 2)
    assert sent == names
    assert bucket.keys("runs/order/") == set(names)


def test_an_image_folder_and_an_npz_in_a_bucket_read_as_their_local_copies(bucket, in_tmp):
    from PIL import Image

    rng = np.random.default_rng(0)
    for name, brightness in (("dark", 40), ("light", 200)):
        (in_tmp / "images" / name / "nested").mkdir(parents=True)
        for i in range(8):
            pixels = np.clip(rng.normal(brightness, 30, (12, 10, 3)), 0, 255).astype(np.uint8)
            where = in_tmp / "images" / name / ("nested" if i % 3 == 0 else "") / f"{i}.png"
            Image.fromarray(pixels).save(where)
    (in_tmp / "images" / "dark" / "notes.txt").write_text("not an image")
    url = bucket.put_folder(in_tmp / "images", "photos")
    sets = ["data.source=image_folder", "data.image_size=[16,16]"]
    remote = manifest_of([*sets, f"data.location={url}"])
    same_examples(remote, manifest_of([*sets, f"data.location={in_tmp / 'images'}"]))
    assert all(str(origin).startswith(f"{url}/") for origin in remote.origins)
    assert main(["inspect", "--run-dir", "runs/images", *flags([*sets, f"data.location={url}"])]) in (0, 1)

    arrays = io.BytesIO()
    np.savez(arrays, x=rng.normal(size=(120, 5)).astype(np.float32), y=rng.integers(0, 2, 120))
    (in_tmp / "arrays.npz").write_bytes(arrays.getvalue())
    url = bucket.put("arrays/arrays.npz", arrays.getvalue())
    sets = ["task=binary", "data.source=npz"]
    same_examples(manifest_of([*sets, f"data.location={url}"]),
                  manifest_of([*sets, f"data.location={in_tmp / 'arrays.npz'}"]))


def test_two_workers_train_from_a_bucket_into_a_bucket(bucket, in_tmp, free_ports):
    """MultiWorkerMirroredStrategy on 127.0.0.1, as `scripts/train_slurm.sbatch` runs it on a
    cluster, with the CSV and the run folder in the bucket: both processes end, and the chief's
    run (checkpoints, export, verdicts, every epoch's log line) is what the bucket holds, and both
    end with the same weights (each prints their digest)."""
    url = bucket.put("tables/table.csv", table_csv(400))
    run_url = f"s3://{bucket.name}/runs/two"
    ports = free_ports(2)
    command = [sys.executable, "-m", "{{ cookiecutter.package_name }}", "train", "--run-dir", run_url,
               *flags(["task=binary", "data.source=csv", f"data.location={url}", "train.distribute=multi_worker",
                       "train.epochs=2", "train.min_steps=0", "model.hidden_units=8"])]
    quiet = {k: v for k, v in os.environ.items() if not k.startswith(("TF_CONFIG", "SLURM_"))}
    processes = []
    for task in range(2):
        cluster = {"cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
                   "task": {"type": "worker", "index": task}}
        processes.append(subprocess.Popen(
            command, env=quiet | {"TF_CONFIG": json.dumps(cluster), "CUDA_VISIBLE_DEVICES": "",
                                  "TF_CPP_MIN_LOG_LEVEL": "3"},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    try:
        outputs = [process.communicate(timeout=300)[0] for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert [process.returncode for process in processes] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    assert "worker done" in outputs[1] and "worker done" not in outputs[0]
    digests = [re.findall(r"trained weights: sha256 ([0-9a-f]{64})", output) for output in outputs]
    assert len(digests[0]) == 1 and digests[0] == digests[1], digests  # the workers ended with identical weights
    held = bucket.keys("runs/two/")
    assert {"checkpoints/best.keras", "export/predict.json", "verdicts.json", "data/manifest.npz"} <= held
    assert "train" in {verdict["stage"] for verdict in json.loads(bucket.get("runs/two/verdicts.json"))}
    assert len(bucket.get("runs/two/history.csv").decode().splitlines()) == 3  # a header and 2 epochs


def assert_refused(location: str, words: str, run_dir: Path, capsys) -> None:
    """`inspect` on `location`: exit 2, one line on stderr with `words` and the URL, no data written."""
    code = main(["inspect", "--run-dir", str(run_dir), *flags(["task=binary", "data.source=csv",
                                                              f"data.location={location}"])])
    error = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(error) == 1 and words in error[0] and location in error[0], error
    assert not (run_dir / "data").exists()


@pytest.mark.parametrize(("location", "words"), [
    ("s4://{bucket}/table.csv", "unknown storage scheme 's4'"),
    ("s3://Not_A_Bucket/table.csv", "'Not_A_Bucket' is not a bucket name"),
    ("s3://no-such-bucket-here/table.csv", "no bucket 'no-such-bucket-here' at http://127.0.0.1:"),
    ("s3://{bucket}/no/such/table.csv", "CSV file not found: s3://{bucket}/no/such/table.csv"),
])
def test_a_url_that_leads_nowhere_is_one_line_and_exit_2(bucket, in_tmp, capsys, location, words):
    location, words = (text.format(bucket=bucket.name) for text in (location, words))
    assert_refused(location, words, in_tmp / "runs/bad", capsys)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def gcs_endpoint():
    """A Google Cloud Storage server on 127.0.0.1 (gcp-storage-emulator, in memory) holding one
    bucket, which Google's clients reach through STORAGE_EMULATOR_HOST."""
    from gcp_storage_emulator.server import create_server

    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket="team-gcs")
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def test_gs_urls_go_through_the_same_layer(gcs_endpoint, monkeypatch, in_tmp, capsys):
    """A CSV at a gs:// URL gives its local copy's manifest; a run folder at a gs:// URL holds
    what `inspect` wrote; a missing bucket is one line, exit 2."""
    import pyarrow.fs as pafs

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_endpoint)
    data = table_csv(300)
    (in_tmp / "table.csv").write_bytes(data)
    server = pafs.GcsFileSystem(anonymous=True, scheme="http", endpoint_override=gcs_endpoint.split("://")[1])
    with server.open_output_stream("team-gcs/tables/table.csv") as stream:
        stream.write(data)
    sets = ["task=binary", "data.source=csv"]
    url = "gs://team-gcs/tables/table.csv"
    same_examples(manifest_of([*sets, f"data.location={url}"]),
                  manifest_of([*sets, f"data.location={in_tmp / 'table.csv'}"]))
    assert main(["inspect", "--run-dir", "gs://team-gcs/runs/first", *flags([*sets, f"data.location={url}"])]) in (0, 1)
    held = {info.path for info in server.get_file_info(pafs.FileSelector("team-gcs/runs/first", recursive=True))}
    assert {"team-gcs/runs/first/data/manifest.npz", "team-gcs/runs/first/verdicts.json"} <= held
    capsys.readouterr()
    missing = "gs://no-such-gcs-bucket/tables/table.csv"
    assert main(["inspect", "--run-dir", "runs/missing", *flags([*sets, f"data.location={missing}"])]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and f"{missing}: no bucket 'no-such-gcs-bucket'" in error[0], error


@pytest.fixture(scope="module")
def guarded_endpoint():
    """moto's S3 server with authentication on, in its own process (the setting is read at start):
    requests must be signed by a key the server knows, as a cloud bucket's are."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              env=os.environ | {"INITIAL_NO_AUTH_ACTION_COUNT": "0"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=30)


@pytest.mark.parametrize(("key", "words"), [
    ("not-a-key-it-knows", "access denied"),
    (None, "no credentials were found"),
])
def test_denied_access_and_missing_credentials_are_one_line_and_exit_2(guarded_endpoint, monkeypatch, in_tmp,
                                                                         capsys, key, words):
    point_aws_at(monkeypatch, guarded_endpoint, key)
    monkeypatch.setenv("HOME", str(in_tmp))  # no ~/.aws of the machine running the tests
    assert_refused("s3://team-data/tables/table.csv", words, in_tmp / "runs/denied", capsys)
