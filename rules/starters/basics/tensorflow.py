"""Train a small Keras 3 MLP (TensorFlow backend) on two interleaved half-moons.

The data is generated in memory with NumPy and a fixed seed; the model is
built with keras.Sequential and trained with compile() + fit().
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
EPOCHS = 15
BATCH_SIZE = 64


def make_moons(n, rng):
    """Two interleaving half circles with a little noise."""
    angle = rng.uniform(0, np.pi, n)
    label = rng.integers(0, 2, n)
    x = np.where(label == 0, np.cos(angle), 1 - np.cos(angle))
    y = np.where(label == 0, np.sin(angle), 0.5 - np.sin(angle))
    points = np.stack([x, y], axis=1) + rng.normal(0, 0.1, (n, 2))
    return points.astype("float32"), label.astype("float32")


class PrintEvery(keras.callbacks.Callback):
    """Print the training loss and accuracy every `n` epochs."""

    def __init__(self, n):
        super().__init__()
        self.n = n

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.n == 0:
            print(f"epoch {epoch + 1:3d}  loss {logs['loss']:.4f}  accuracy {logs['accuracy']:.3f}")


def main():
    if DEVICE not in ("cpu", "gpu") or not tf.config.list_physical_devices(DEVICE.upper()):
        sys.exit(f"error: TensorFlow device {DEVICE!r} is not available on this machine")
    keras.utils.set_random_seed(0)  # seeds Python, NumPy and TensorFlow at once

    x, y = make_moons(1000, np.random.default_rng(0))

    with tf.device(f"/{DEVICE.upper()}:0"):
        model = keras.Sequential([
            keras.Input(shape=(2,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ])
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=0.01),
            loss="binary_crossentropy",
            metrics=["accuracy"],
        )
        first_loss, _ = model.evaluate(x, y, verbose=0)  # the untrained model's loss
        # verbose=0 hides Keras's progress bar; the callback prints a short line instead.
        model.fit(x, y, epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=0, callbacks=[PrintEvery(5)])
        final_loss, accuracy = model.evaluate(x, y, verbose=0)

    print(f"training accuracy: {accuracy:.1%}")
    print(f"first_loss={first_loss:.6f}")
    print(f"final_loss={final_loss:.6f}")


if __name__ == "__main__":
    main()
