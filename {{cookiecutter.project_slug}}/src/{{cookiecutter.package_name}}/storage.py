"""Files named by a local path or an object-storage URL (s3://, gs://), read through one layer.

Why pyarrow.fs: pyarrow already reads every CSV (data/tables.py), and its wheel carries S3 and
Google Cloud Storage clients in C++ with the credential chains teams already use (AWS: the
environment, AWS_PROFILE and ~/.aws, SSO, container and instance roles, AWS_ENDPOINT_URL for an
S3-compatible store such as MinIO; Google: application default credentials). So a project that
never touches a bucket installs nothing more, and a CSV in a bucket streams in blocks through
the same reader as a local one. fsspec's s3fs would add aiobotocore and a pinned botocore;
TensorFlow's own file layer reaches gs:// but left s3:// for tensorflow-io, which stops at TF
2.17.

A `Location` is what the data readers hold instead of a `pathlib.Path`: the name the user gave
(printed in every message), the filesystem and the path inside it. Every failure to reach a
bucket (a bad URL, no such bucket, no credentials, access denied) becomes one UserError that
names the URL, at the first contact, before anything is written.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError

SCHEMES = {"s3": "S3", "gs": "Google Cloud Storage", "gcs": "Google Cloud Storage"}
URL = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://(.*)$")


def is_url(name: str | os.PathLike) -> bool:
    """Whether `name` is a URL (scheme://...) rather than a local path."""
    return bool(URL.match(str(name)))


@dataclass(frozen=True)
class Location:
    """A file or folder, local or in a bucket.

    Args:
        name: What the user wrote (a path, or s3://bucket/key): the words of every message.
        fs: The pyarrow filesystem that reaches it.
        path: The path inside `fs` (bucket/key for object storage, absolute for a local file).
    """

    name: str
    fs: object
    path: str

    def __str__(self) -> str:
        return self.name

    @property
    def remote(self) -> bool:
        return is_url(self.name)

    @property
    def basename(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    @property
    def suffix(self) -> str:
        return Path(self.basename).suffix.lower()

    def _info(self):
        with _reaching(self):
            return self.fs.get_file_info(self.path)

    def is_file(self) -> bool:
        import pyarrow.fs as pafs

        return self._info().type == pafs.FileType.File

    def is_dir(self) -> bool:
        import pyarrow.fs as pafs

        return self._info().type == pafs.FileType.Directory

    def exists(self) -> bool:
        import pyarrow.fs as pafs

        return self._info().type != pafs.FileType.NotFound

    def size(self) -> int:
        return int(self._info().size or 0)

    def child(self, name: str) -> Location:
        return Location(f"{self.name.rstrip('/')}/{name}", self.fs, f"{self.path.rstrip('/')}/{name}")

    def open(self):
        """A binary stream of the file's bytes (pyarrow's, read ahead in the background for a
        bucket), which the CSV reader takes as it takes a path."""
        with _reaching(self):
            return self.fs.open_input_stream(self.path)

    def npz(self):
        """np.load of an .npz archive (no pickles): by its path locally; in a bucket from its
        bytes, read whole first (its arrays are loaded whole anyway), so that numpy's zip reader
        seeks in memory rather than by a request for each of its small reads."""
        import io

        import numpy as np

        return np.load(io.BytesIO(self.read()) if self.remote else self.path, allow_pickle=False)

    def head(self, size: int) -> bytes:
        """The first `size` bytes (fewer in a shorter file)."""
        with _reaching(self), self.fs.open_input_stream(self.path) as stream:
            return stream.read(size)

    def read(self) -> bytes:
        with _reaching(self), self.fs.open_input_stream(self.path) as stream:
            return stream.read()

    def fingerprint(self) -> dict:
        """What changes when the file does: size and modification time of a local file; in S3
        size and the object's ETag (a hash of its content: a rewrite of the same bytes keeps
        it); in GCS size and the object's update time, which every write renews (pyarrow's GCS
        client does not show the generation)."""
        if not self.remote:
            stat = Path(self.path).stat()
            return {"file": self.path, "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        if not self.name.lower().startswith("s3://"):
            info = self._info()
            return {"file": self.name, "bytes": int(info.size or 0), "updated_ns": int(info.mtime_ns or 0)}
        with _reaching(self), self.fs.open_input_file(self.path) as handle:
            meta = {key.lower(): value.decode(errors="replace") for key, value in handle.metadata().items()}
            size = handle.size()
        return {"file": self.name, "bytes": int(size), "etag": meta.get("etag", "").strip('"')}

    def files(self) -> list[tuple[str, int, int]]:
        """Every file below this folder: (path relative to it with '/', size, a stamp that
        changes with the file: mtime in ns locally; 0 in a bucket, where the fingerprint of
        a listing is its names and sizes). One listing call per thousand objects in a bucket."""
        import pyarrow.fs as pafs

        with _reaching(self):
            found = self.fs.get_file_info(pafs.FileSelector(self.path, recursive=True))
        base = len(self.path.rstrip("/")) + 1
        return sorted((info.path[base:], int(info.size), 0 if self.remote else int(info.mtime_ns or 0))
                      for info in found if info.type == pafs.FileType.File)


def read_bytes(name: str | os.PathLike) -> bytes:
    """A whole file's bytes, local or in a bucket."""
    return locate(name).read()


def upload(local: Path, target: Location) -> None:
    """Copies a finished local file to `target` in a bucket. An object appears whole or not at
    all (S3 completes a multipart upload only at its end), so the file is written locally
    first, whole, and only then sent."""
    import pyarrow.fs as pafs

    with _reaching(target):
        pafs.copy_files(str(local), target.path, source_filesystem=pafs.LocalFileSystem(),
                        destination_filesystem=target.fs)


def download(source: Location, local: Path) -> None:
    """Copies one file from a bucket to a local path (its folders made)."""
    import pyarrow.fs as pafs

    local.parent.mkdir(parents=True, exist_ok=True)
    with _reaching(source):
        pafs.copy_files(source.path, str(local), source_filesystem=source.fs,
                        destination_filesystem=pafs.LocalFileSystem())


def delete(target: Location) -> None:
    """Removes one object, if it is there."""
    with contextlib.suppress(FileNotFoundError), _reaching(target):
        target.fs.delete_file(target.path)


def locate(name: str | os.PathLike) -> Location:
    """The Location of a local path or an s3:// or gs:// URL; a URL that cannot be one, or a
    bucket that is not there or not readable, is a UserError naming the URL."""
    text = str(name)
    match = URL.match(text)
    if match is None:
        import pyarrow.fs as pafs

        return Location(text, pafs.LocalFileSystem(), str(Path(text).expanduser().resolve()))
    scheme, rest = match.group(1).lower(), match.group(2)
    if scheme not in SCHEMES:
        raise UserError(f"{text}: unknown storage scheme {scheme!r}; use a local path, s3://bucket/key or "
                        "gs://bucket/key")
    bucket = rest.split("/", 1)[0]
    if not bucket or not re.fullmatch(r"[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]", bucket):
        raise UserError(f"{text}: {bucket!r} is not a bucket name ({scheme}://bucket/key: 3 to 63 lower-case "
                        "letters, digits, dots and hyphens)")
    location = Location(text, _filesystem(scheme), rest.rstrip("/"))
    _check_bucket(location, scheme, bucket)
    return location


def _filesystem(scheme: str):
    """One client per scheme and settings (it holds its connections and credentials): made
    again when the environment that configures it changes."""
    import pyarrow.fs as pafs

    key = (scheme, *(os.environ.get(name) for name in SETTINGS))
    if key not in _FILESYSTEMS:
        with _reaching(f"{scheme}://"):
            if scheme == "s3":
                # The AWS SDK's chain finds the credentials; the region is the environment's
                # (AWS_REGION / AWS_DEFAULT_REGION) or the profile's.
                _FILESYSTEMS[key] = pafs.S3FileSystem(**_s3_region(), **_s3_endpoint())
            else:
                _FILESYSTEMS[key] = pafs.GcsFileSystem(**_gcs_emulator())
    return _FILESYSTEMS[key]


SETTINGS = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE",
            "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS")
_FILESYSTEMS: dict[tuple, object] = {}


def _s3_region() -> dict:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return {"region": region} if region else {}


def _s3_endpoint() -> dict:
    """AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (the AWS SDKs' names for an S3-compatible store:
    MinIO, Ceph, R2, a test server), which pyarrow's S3FileSystem does not read by itself."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        return {}
    scheme, _, host = endpoint.rpartition("://")
    return {"endpoint_override": host.rstrip("/"), "scheme": scheme or "https"}


def _gcs_emulator() -> dict:
    """STORAGE_EMULATOR_HOST (the name Google's client libraries read for a local GCS server,
    e.g. http://127.0.0.1:9023): no credentials, the endpoint and scheme it names."""
    host = os.environ.get("STORAGE_EMULATOR_HOST")
    if not host:
        return {}
    scheme, _, address = host.rpartition("://")
    return {"anonymous": True, "endpoint_override": address.rstrip("/"), "scheme": scheme or "http"}


def _check_bucket(location: Location, scheme: str, bucket: str) -> None:
    """A bucket that is not there, or not readable, named before any file in it is read: once
    per bucket and process."""
    import pyarrow.fs as pafs

    seen = (bucket, *(os.environ.get(name) for name in SETTINGS))
    if seen in _SEEN_BUCKETS:
        return
    try:
        found = location.fs.get_file_info(bucket).type
    except OSError as err:
        if DENIED.search(str(err)):
            return  # a key may be readable where its bucket is not (s3:GetObject without s3:ListBucket)
        raise UserError(f"{location}: {_cause(str(err), location.name)}") from None
    if found == pafs.FileType.NotFound:
        raise UserError(f"{location}: no bucket {bucket!r} at {_endpoint(scheme)}")
    _SEEN_BUCKETS.add(seen)


_SEEN_BUCKETS: set[tuple] = set()


def _endpoint(scheme: str) -> str:
    if scheme == "s3":
        return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or "AWS S3"
    return os.environ.get("STORAGE_EMULATOR_HOST") or SCHEMES[scheme]


@contextlib.contextmanager
def _reaching(name: object):
    """The storage client's OSError as one UserError naming the URL and the likely cause; a
    missing file stays FileNotFoundError, for the caller to say what it looked for."""
    try:
        yield
    except FileNotFoundError:
        raise
    except OSError as err:
        raise UserError(f"{name}: {_cause(str(err), str(name))}") from None


def _cause(message: str, name: str) -> str:
    """The store's answer in a user's words, with what to check."""
    first = message.splitlines()[0] if message else "no answer"
    aws = name.lower().startswith("s3://")
    if DENIED.search(first):
        return f"access denied ({first}). {_credentials_hint(aws)}"
    if not _has_credentials(aws):
        return f"no credentials were found ({first}). {_credentials_hint(aws)}"
    return f"the store could not be read ({first})"


DENIED = re.compile(r"ACCESS_DENIED|AccessDenied|HTTP status 403|InvalidAccessKeyId|SignatureDoesNotMatch|"
                    r"PERMISSION_DENIED|UNAUTHENTICATED|HTTP status 401")


def _credentials_hint(aws: bool) -> str:
    if aws:
        return ("Check the credentials the AWS SDK finds: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
                "AWS_PROFILE and ~/.aws; AWS_ENDPOINT_URL for an S3-compatible store")
    return "Check Google's application default credentials (gcloud auth application-default login)"


def _has_credentials(aws: bool) -> bool:
    """Whether any source of credentials is visible. Used only to word a failure: the SDK's
    own chain decides (instance and container roles included, which this cannot see)."""
    if not aws:
        return bool(os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")) or (
            Path.home() / ".config" / "gcloud" / "application_default_credentials.json").is_file()
    keys = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
    files = (os.environ.get("AWS_SHARED_CREDENTIALS_FILE", Path.home() / ".aws" / "credentials"),
             os.environ.get("AWS_CONFIG_FILE", Path.home() / ".aws" / "config"))
    return any(os.environ.get(key) for key in keys) or any(Path(f).is_file() for f in files)
