#!/usr/bin/env bash
# Train on one GPU as fast as it goes:
#   mixed_float16  float16 maths on the tensor cores, float32 weights and loss (about 2x faster)
#   jit_compile    XLA fuses the model's ops into a few GPU kernels
#   deterministic  off: op determinism costs speed on GPUs (`check` still tests reproducibility, T14)
# Extra arguments go to `train` and win over these: scripts/train_one_gpu.sh --set train.epochs=50
set -euo pipefail
exec {{ cookiecutter.project_slug }} train --set train.distribute=none \
    --set train.precision=mixed_float16 --set train.jit_compile=on --set train.deterministic=false "$@"
