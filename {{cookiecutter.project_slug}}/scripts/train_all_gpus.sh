#!/usr/bin/env bash
# Train on every GPU of this machine (tf.distribute.MirroredStrategy): each GPU takes
# data.batch_size examples per step, so the global batch grows with the GPUs. The learning
# rate is not scaled for you: re-run `check --lr-find` or see the README ("Scaling out").
# Choose GPUs with CUDA_VISIBLE_DEVICES=0,1 scripts/train_all_gpus.sh; extra arguments go to `train`.
set -euo pipefail
exec {{ cookiecutter.project_slug }} train --set train.distribute=mirrored \
    --set train.precision=mixed_float16 --set train.deterministic=false "$@"
