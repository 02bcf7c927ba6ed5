"""TensorFlow imported without its start-up noise, so that the first line a stage prints is its own.

TensorFlow 2.21 writes about 30 lines to stderr while it loads and finds its devices (absl's
"before InitializeLog", oneDNN, cuInit and cudart on a machine without a GPU); they come from
C++ before TF_CPP_MIN_LOG_LEVEL is read, so the only way to keep them off the terminal is to
point file descriptor 2 elsewhere for the import and the device listing. Python warnings and
errors raised later print as usual; `--verbose` skips all of this.
"""

from __future__ import annotations

import os
import sys


def import_tensorflow_quietly() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's own INFO and WARNING lines, later on
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow as tf

        tf.config.list_physical_devices()  # device discovery prints too (cuInit without a GPU)
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
