"""An image folder, streamed: a file list, then read, decode and resize in a parallel tf.data map.

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
from .scan import Scan, ScanFacts

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}


def list_class_folders(root: Path, task: str) -> list[Path]:
    """The class sub-folders, or one clear message about what is wrong with the folder."""
    if not root.is_dir():
        raise UserError(f"image folder not found: {root}")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir())
    if not class_dirs:
        raise UserError(f"image folder {root} has no class sub-folders (expected {root}/<class>/<image>)")
    if len(class_dirs) == 1 and task != "regression":
        # Checked before reading any image: the usual cause is data.location one level too high.
        raise UserError(
            f"image folder {root} holds a single class folder {class_dirs[0].name!r}, so every image "
            f"would get the same label; point data.location at the folder that holds one sub-folder per class"
            f"{f' (perhaps {class_dirs[0]})' if any(p.is_dir() for p in class_dirs[0].iterdir()) else ''}"
        )
    return class_dirs


def list_images(class_dirs: list[Path]) -> tuple[list[str], np.ndarray, list[tuple[int, int]]]:
    """Every image file (nested folders inside a class folder included), its class id, and
    (size, mtime_ns) for the fingerprint. One stat per file: a listing of 80,000 files takes
    a fraction of a second."""
    paths, labels, stamps = [], [], []
    for label, class_dir in enumerate(class_dirs):
        files = sorted(p for p in class_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise UserError(f"class folder {class_dir} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        for path in files:
            stat = path.stat()
            paths.append(str(path))
            labels.append(label)
            stamps.append((stat.st_size, stat.st_mtime_ns))
    return paths, np.asarray(labels, np.int64), stamps


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

    def probe(position, path):
        contents = tf.io.read_file(path)
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

    if os.path.getsize(path) == 0:
        return "empty file (0 bytes)"
    try:
        tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    except tf.errors.OpError as err:
        # TensorFlow prefixes its messages with the op's node name in double braces: not the user's business.
        message = re.sub(r"\{\{[^}]*\}\}\s*", "", err.message.splitlines()[0]).strip()
        return f"not a readable image ({message})"
    return "not a readable image"
