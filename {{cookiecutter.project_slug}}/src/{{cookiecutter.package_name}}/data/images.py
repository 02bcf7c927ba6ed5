"""An image folder, streamed: a file list, then read, decode and resize in a parallel tf.data map.

The folder may be local or in a bucket (storage.py): listed in one pass either way.

Nothing holds more than the images in flight. The scan (once per run, manifest.py) reads
every file once, in the same parallel map: the content key is a hash of the file's bytes
(tf.fingerprint, FarmHash64: stable across machines), and the file is decoded to find the
ones that are empty, truncated or no image at all (D4), and whether every image is grayscale.
TensorFlow decodes PNG, JPEG, BMP and GIF (first frame) natively; palette, 16-bit and RGBA
images come out as RGB, then become one channel when `data.channels` asks for it.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..progress import ProgressLine
from ..storage import Location, is_url, locate
from .scan import Scan, ScanFacts

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}


def list_images(root: Location, task: str) -> tuple[list[str], list[str], np.ndarray, list[tuple[int, int]]]:
    """The class names (one sub-folder each), every image file below them (nested folders
    included: a full path, or a URL in a bucket), its class id, and (size, stamp) for the
    fingerprint; or one clear message about what is wrong with the folder. Locally one stat
    per file (80,000 files in a fraction of a second); in a bucket one listing call per
    thousand objects."""
    if not root.is_dir():
        raise UserError(f"image folder not found: {root}")
    by_class: dict[str, list[tuple[str, int, int]]] = {}
    if not root.remote:  # a local class folder with no file in it still counts (and is refused below)
        by_class = {entry.name: [] for entry in os.scandir(root.path) if entry.is_dir()}
    nested: set[str] = set()
    for relative, size, stamp in _listing(root):
        if "/" not in relative:
            continue  # a file beside the class folders belongs to none
        name, rest = relative.split("/", 1)
        found = by_class.setdefault(name, [])
        if "/" in rest:
            nested.add(name)
        if Path(rest).suffix.lower() in IMAGE_SUFFIXES:
            found.append((root.child(relative).name if root.remote else str(Path(root.name) / relative), size, stamp))
    names = sorted(by_class)
    if not names:
        raise UserError(f"image folder {root} has no class sub-folders (expected {root}/<class>/<image>)")
    if len(names) == 1 and task != "regression":
        # Checked before reading any image: the usual cause is data.location one level too high.
        raise UserError(
            f"image folder {root} holds a single class folder {names[0]!r}, so every image "
            f"would get the same label; point data.location at the folder that holds one sub-folder per class"
            f"{f' (perhaps {root.child(names[0])})' if names[0] in nested else ''}"
        )
    paths, labels, stamps = [], [], []
    for label, name in enumerate(names):
        if not by_class[name]:
            raise UserError(f"class folder {root.child(name)} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        for path, size, stamp in sorted(by_class[name]):
            paths.append(path)
            labels.append(label)
            stamps.append((size, stamp))
    return names, paths, np.asarray(labels, np.int64), stamps


def _listing(root: Location) -> list[tuple[str, int, int]]:
    """(path relative to `root` with '/', size, mtime_ns) of every file below it; locally by
    os.walk (following links to folders, as pathlib's rglob did), in a bucket by listing."""
    if root.remote:
        return root.files()
    found = []
    for folder, _, files in os.walk(root.path, followlinks=True):
        for name in files:
            path = os.path.join(folder, name)
            try:
                stat = os.stat(path)
            except OSError:
                continue  # a broken link: no file to read
            found.append((os.path.relpath(path, root.path).replace(os.sep, "/"), stat.st_size, stat.st_mtime_ns))
    return found


def reader(paths: list[str]):
    """The function from a path tensor to the file's bytes: tf.io.read_file for local files;
    for files in a bucket, pyarrow's read in a tf.numpy_function (TensorFlow's own file layer
    no longer reaches s3://), which tf.data runs in parallel as it does read_file."""
    import tensorflow as tf

    if not paths or not is_url(paths[0]):
        return tf.io.read_file
    fs = locate(paths[0]).fs

    def fetch(path: bytes) -> bytes:
        with fs.open_input_stream(path.decode().split("://", 1)[1]) as stream:
            return stream.read()

    def read(path):
        contents = tf.numpy_function(fetch, [path], tf.string, stateful=False)
        contents.set_shape([])
        return contents

    return read


def fingerprint(paths: list[str], stamps: list[tuple[int, int]]) -> dict:
    """Paths, sizes and modification times of every file, hashed: any change shows."""
    digest = hashlib.sha256()
    for path, (size, mtime) in zip(paths, stamps, strict=True):
        digest.update(f"{path}\0{size}\0{mtime}\n".encode())
    return {"files": len(paths), "bytes": sum(s for s, _ in stamps), "sha256": digest.hexdigest()}


def decode(contents, channels: int, image_size: tuple[int, int]):
    """One file's bytes to a float32 (H, W, channels) image in 0..255, resized (bilinear)."""
    import tensorflow as tf

    image = tf.io.decode_image(contents, channels=3, expand_animations=False, dtype=tf.uint8)
    if channels == 1:
        image = tf.image.rgb_to_grayscale(image)
    image.set_shape([None, None, channels])
    return tf.image.resize(tf.cast(image, tf.float32), image_size)


def scan_files(paths: list[str], labels: np.ndarray) -> Scan:
    """Read every file once: key, size, whether it decodes, whether it is grayscale.

    The decode runs in tf.data's parallel map; a file that fails to decode is dropped from
    that stream (ignore_errors) and found again by its missing position, then decoded alone
    to name the error."""
    import tensorflow as tf

    read = reader(paths)

    def probe(position, path):
        contents = read(path)
        image = tf.io.decode_image(contents, channels=0, expand_animations=False, dtype=tf.uint8)
        key = tf.bitcast(tf.fingerprint(tf.expand_dims(contents, 0))[0], tf.uint64)
        gray = tf.shape(image)[-1] <= 2  # L or LA
        return position, key, tf.strings.length(contents), gray

    files = tf.data.Dataset.from_tensor_slices((np.arange(len(paths), dtype=np.int64), paths))
    probed = files.map(probe, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    probed = probed.ignore_errors().batch(1024)
    positions, keys, sizes, gray = [], [], [], []
    progress, seen = ProgressLine("scanning the image folder", len(paths), "files"), 0
    for batch in probed.as_numpy_iterator():
        for column, values in zip((positions, keys, sizes, gray), batch, strict=True):
            column.append(values)
        seen += len(batch[0])
        progress.update(seen)
    positions = np.concatenate(positions) if positions else np.zeros(0, np.int64)
    good = np.zeros(len(paths), bool)
    good[positions] = True
    invalid = {int(i): _why_unreadable(paths[i]) for i in np.flatnonzero(~good)}
    all_gray = bool(np.concatenate(gray).all()) if gray else False
    return Scan(positions, np.concatenate(keys) if keys else np.zeros(0, np.uint64), labels[positions],
                np.concatenate(sizes).astype(np.int64) if sizes else np.zeros(0, np.int64),
                np.asarray(paths)[positions], invalid, ScanFacts(len(paths), grayscale=all_gray))


def _why_unreadable(path: str) -> str:
    """The decoder's own words for one file that failed, shortened to its first line."""
    import tensorflow as tf

    contents = locate(path).read()
    if not contents:
        return "empty file (0 bytes)"
    try:
        tf.io.decode_image(contents, channels=3, expand_animations=False)
    except tf.errors.OpError as err:
        # TensorFlow prefixes its messages with the op's node name in double braces: not the user's business.
        message = re.sub(r"\{\{[^}]*\}\}\s*", "", err.message.splitlines()[0]).strip()
        return f"not a readable image ({message})"
    return "not a readable image"
