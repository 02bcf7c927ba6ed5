"""D3's second half: near-duplicates across splits. A re-encoded photo, a lightly noised copy
or a table row exported twice with its ID (or a timestamp) changed has a content key of its own,
so the hash split can put the two copies in train and test, and the test score then measures
memory. Every val and test example is compared with train on the exact tensor the model sees,
in one pass over every split:

- images: an 8 x 8 gray thumbnail (area averaging), centred and scaled to unit length; a val or
  test image is a near twin of the train image whose thumbnail is closest when their cosine is
  at least IMAGE_COSINE (a brute-force search: one matrix product per block of BATCH val and
  test images against every train image). JPEG re-encoding and light noise keep a copy's cosine
  near 1, while unrelated images rarely come that close; a perceptual hash lost too many of its
  bits to the same changes (BENCHMARKS.md, "Check notes: D3"). Plain images (a
  thumbnail whose spread is under FLAT_SHARE of the pixel range: sky, blank pages) get none:
  their thumbnails are mostly noise, and close by chance. So do images under MIN_IMAGE_SIDE a
  side: at 8 x 8 (the bundled digits) two honest drawings of one digit look alike by nature.
  Look-alikes that are not copies (centred digits, products on white, one object per class
  on noise) have many train images about as close as the nearest: a copy has one. So the
  nearest must also be at most RUNNER_UP_RATIO of the runner-up's distance (1 - cosine), as
  Lowe's ratio test matches image features.
- tables: the row in units of each feature's training standard deviation, rounded to
  TABLE_DECIMALS decimals (1% of a standard deviation), hashed: cells that differ only in
  printed precision, and columns the model does not use (an ID, a row number), do not tell two
  copies apart. Where a table has few continuous columns, honest rows share such a cell by
  chance in its dense parts (ISLR's Default: a balance of 0, a student flag and an income
  within $133 matched 243 val and test rows to train). A copy is alone near its original, so,
  as for images, a twin counts only where the cell 10 times wider in every column
  (COARSE_DECIMALS) holds at most ALONE_FACTOR times the train rows of the narrow one; discrete
  columns round the same at both widths, so rows of coarse columns are judged as before.

A closeness that happens by chance would make honest examples look copied (coarse columns
repeat by nature; textures look alike). Real copies carry their label with them, so the near
twins count only when their labels agree far more often than two random labels do: at least
halfway from that chance rate to always (`labels_agree_by_chance`).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ..data import SPLITS, Prepared
from ..data.split import array_keys

MIN_IMAGE_SIDE = 16
IMAGE_COSINE = 0.99
RUNNER_UP_RATIO = 0.5
FLAT_SHARE = 4 / 255
TABLE_DECIMALS = 2
COARSE_DECIMALS = 1
ALONE_FACTOR = 2
BATCH = 256  # examples per block of the pass and of the search: 28 MiB of 96 x 96 RGB


def image_thumbnails(images: np.ndarray, pixel_range: tuple[float, float]) -> np.ndarray:
    """Unit-length 8 x 8 gray thumbnails of a (N, H, W, C) batch; rows of 0 for plain images and
    for images too small to judge (module docstring)."""
    import tensorflow as tf

    if min(images.shape[1:3]) < MIN_IMAGE_SIDE:
        return np.zeros((len(images), 64), np.float32)
    gray = np.asarray(images, np.float32).mean(axis=-1, keepdims=True)
    thumbs = tf.image.resize(gray, (8, 8), method="area").numpy().reshape(len(images), 64)
    thumbs -= thumbs.mean(axis=1, keepdims=True)
    spread = np.linalg.norm(thumbs, axis=1, keepdims=True)
    textured = spread / 8 >= FLAT_SHARE * max(pixel_range[1] - pixel_range[0], 1e-6)
    return np.where(textured, thumbs / np.maximum(spread, 1e-12), 0.0).astype(np.float32)


def row_hashes(rows: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Two content keys of each table row in training-standard-deviation units: rounded to
    TABLE_DECIMALS and to COARSE_DECIMALS decimals, as columns of a (N, 2) array."""
    scaled = (rows - mean) / np.where(std > 0, std, 1.0)
    return np.stack([array_keys((np.round(scaled, decimals) + 0.0).astype(np.float32))  # -0.0 becomes 0.0
                     for decimals in (TABLE_DECIMALS, COARSE_DECIMALS)], axis=1)


def near_signatures(prepared: Prepared) -> np.ndarray:
    """Per manifest row: its thumbnail (images) or rounded-row key (tables), one pass over every split."""
    images = prepared.kind == "image"
    rows_in_all = len(prepared.manifest)
    found = np.zeros((rows_in_all, 64), np.float32) if images else np.zeros((rows_in_all, 2), np.uint64)
    mean, std = (np.asarray(v, np.float32) for v in (prepared.stats.mean, prepared.stats.std))
    for split in SPLITS:
        rows, done = prepared.indices[split], 0
        for x, _ in prepared.stream(split).batch(BATCH).as_numpy_iterator():
            block = (image_thumbnails(x, prepared.stats.pixel_range) if images
                     else row_hashes(x.reshape(len(x), -1), mean, std))
            found[rows[done:done + len(x)]] = block
            done += len(x)
    return found


def twin_in_train(prepared: Prepared, signatures: np.ndarray) -> np.ndarray:
    """Per manifest row of val and test: the train row it nearly duplicates, -1 for none. An
    exact copy (the same content key) is the first half of D3's and is not counted here."""
    train = prepared.indices["train"]
    twins = np.full(len(prepared.manifest), -1, np.int64)
    others = np.r_[prepared.indices["val"], prepared.indices["test"]]
    exact = prepared.manifest.keys
    if signatures.dtype == np.uint64:  # tables: equal rounded keys, alone in the wider cell
        fine, coarse = signatures[:, 0].tolist(), signatures[:, 1].tolist()
        first, in_fine, in_coarse = {}, Counter(fine[r] for r in train), Counter(coarse[r] for r in train)
        for row in train:
            first.setdefault(fine[row], row)
        for row in others:
            match = first.get(fine[row], -1)
            alone = in_coarse[coarse[row]] <= ALONE_FACTOR * in_fine[fine[row]]
            if match >= 0 and exact[match] != exact[row] and alone:
                twins[row] = match
        return twins
    known = train[np.abs(signatures[train]).sum(axis=1) > 0]
    if not len(known):
        return twins
    for start in range(0, len(others), BATCH):
        block = others[start:start + BATCH]
        cosine = signatures[block] @ signatures[known].T
        best = cosine.argmax(axis=1)
        nearest = cosine[np.arange(len(block)), best]
        if len(known) > 1:
            cosine[np.arange(len(block)), best] = -1.0
            runner_up = cosine.max(axis=1)
        else:
            runner_up = np.full(len(block), -1.0)
        alone = (1 - nearest) <= RUNNER_UP_RATIO * (1 - runner_up)
        close = (nearest >= IMAGE_COSINE) & alone & (exact[known[best]] != exact[block])
        twins[block[close]] = known[best[close]]
    return twins


def labels_agree_by_chance(labels: np.ndarray) -> float:
    """The probability that two examples drawn at random carry the same label."""
    _, counts = np.unique(labels, return_counts=True)
    shares = counts / counts.sum()
    return float((shares**2).sum())


def near_duplicates_across_splits(prepared: Prepared) -> dict:
    """What D3 reports: the val and test examples with a near twin in train, the pairs (manifest
    rows), how often their labels agree against chance, and whether they count as copies."""
    signatures = near_signatures(prepared)
    twins = twin_in_train(prepared, signatures)
    rows = np.flatnonzero(twins >= 0)
    labels, splits = prepared.manifest.labels, prepared.manifest.splits
    agree = float(np.mean(labels[rows] == labels[twins[rows]])) if len(rows) else 0.0
    chance = labels_agree_by_chance(labels)
    judged = int(np.any(signatures.reshape(len(signatures), -1) != 0, axis=1).sum())
    return {"pairs": [(int(twins[r]), int(r)) for r in rows],
            "twinned": {split: int((splits[rows] == SPLITS.index(split)).sum()) for split in ("val", "test")},
            "labels_agree": agree, "labels_agree_by_chance": chance, "judged": judged,
            "copies": len(rows) > 0 and agree >= chance + (1 - chance) / 2}
