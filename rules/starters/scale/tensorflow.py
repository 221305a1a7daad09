"""Data-parallel training with tf.distribute.MirroredStrategy and Keras fit().

The model is built and compiled inside strategy.scope(), which mirrors every variable on each
device; fit() then splits each batch across the replicas and all-reduces the gradients, so all
copies stay identical. On CPU the one physical CPU is split into 2 logical devices so there
are really two replicas; on GPUs, every visible GPU is one replica.
Run it with:  python train_tensorflow.py
"""
import os
import sys

# Both must be set before TensorFlow / Keras are imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide TensorFlow's C++ info logs
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import numpy as np
import tensorflow as tf

# Where to train: "cpu" or "gpu".
DEVICE = "cpu"
EPOCHS = 6
GLOBAL_BATCH_SIZE = 128  # split evenly over the replicas


def make_data(n, rng):
    """Regression: y = sum of sin(features) + noise."""
    x = rng.normal(size=(n, 8)).astype("float32")
    return x, (np.sin(x).sum(axis=1, keepdims=True) + 0.1 * rng.normal(size=(n, 1))).astype("float32")


def make_strategy():
    if DEVICE == "cpu":
        # Must run before TensorFlow initialises its devices, i.e. before any tensor is created.
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
        return tf.distribute.MirroredStrategy([d.name for d in tf.config.list_logical_devices("CPU")])
    return tf.distribute.MirroredStrategy()  # every visible GPU, NCCL all-reduce


def main():
    if DEVICE not in ("cpu", "gpu") or not tf.config.list_physical_devices(DEVICE.upper()):
        sys.exit(f"error: TensorFlow device {DEVICE!r} is not available on this machine")
    strategy = make_strategy()
    print(f"replicas in sync: {strategy.num_replicas_in_sync}")
    keras.utils.set_random_seed(0)
    x, y = make_data(4096, np.random.default_rng(0))

    with strategy.scope():  # variables created here are mirrored on every replica
        model = keras.Sequential([
            keras.Input(shape=(8,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(1),
        ])
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse")
    print(f"first layer's kernel is a {type(model.layers[0].kernel.value).__name__}")

    first_loss = model.evaluate(x, y, batch_size=GLOBAL_BATCH_SIZE, verbose=0)
    # Each step, every replica gets GLOBAL_BATCH_SIZE / replicas rows of the batch.
    history = model.fit(x, y, epochs=EPOCHS, batch_size=GLOBAL_BATCH_SIZE, verbose=0)
    for epoch in range(1, EPOCHS, 2):
        print(f"epoch {epoch + 1:3d}  mse {history.history['loss'][epoch]:.4f}")
    final_loss = model.evaluate(x, y, batch_size=GLOBAL_BATCH_SIZE, verbose=0)

    print(f"first_loss={first_loss:.6f}")
    print(f"final_loss={final_loss:.6f}")


if __name__ == "__main__":
    main()
