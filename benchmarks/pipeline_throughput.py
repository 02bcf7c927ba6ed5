"""Is the input pipeline what holds training back? Examples per second of the training
tf.data pipeline alone, next to examples per second of the model training on it.

    python benchmarks/pipeline_throughput.py [--project PATH] [--epochs N]
"""

import keras
from common import Stopwatch, machine, package, project_from_args, stage_config

args, project = project_from_args(__doc__)
config = package(project, "config").load_config("configs/default.yaml")
prepared = package(project, "data").prepare(config)
config = stage_config(project, config, prepared)  # every auto decided
models = package(project, "models")

train_ds, _ = package(project, "data.pipeline").train_datasets(config, prepared, for_fit=True)
n_train = prepared.size("train")
for _ in train_ds:  # warm-up: fills the cache, as the first epoch of fit does
    pass
with Stopwatch() as pipeline:
    for _ in range(args.epochs):
        for _ in train_ds:
            pass

keras.utils.set_random_seed(config.seed)
model = models.compile_model(models.build_model(config, prepared), config)
model.fit(train_ds, epochs=1, verbose=0)  # warm-up: tracing and compilation
with Stopwatch() as training:
    model.fit(train_ds, epochs=args.epochs, verbose=0)

pipeline_rate = args.epochs * n_train / pipeline.seconds
model_rate = args.epochs * n_train / training.seconds
print(f"machine: {machine()}; data {config.data.source}, model {model.name}, batch {config.data.batch_size}")
print(f"pipeline alone : {pipeline_rate:12,.0f} examples/s")
print(f"model training : {model_rate:12,.0f} examples/s")
print(f"pipeline / model: {pipeline_rate / model_rate:.1f}x (above 1: the pipeline is not the bottleneck)")
