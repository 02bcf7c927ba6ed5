"""{{ cookiecutter.description }}"""

import os

# TensorFlow's C++ start-up chatter hides the messages that matter; errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
