"""Fine-tune a pretrained Keras model: load a saved model, freeze the body, train a new head.

There is no network here, so the "pretrained" model is made first: a small network is trained
on a base task (which of 8 angular sectors a point lies in) and saved as a .keras file. Then the
pattern used with downloaded weights: load it, take everything but the old head as a frozen
base (trainable = False), put a new head on top, and fine-tune on a new task (inner vs outer
ring) with few labelled examples.
Run it with:  python train_tensorflow.py
"""
import os
import sys
import tempfile

# Both must be set before TensorFlow / Keras are imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide TensorFlow's C++ info logs
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import numpy as np
import tensorflow as tf

# Where to train: "cpu" or "gpu".
DEVICE = "cpu"
PRETRAIN_EPOCHS = 10
FINE_TUNE_EPOCHS = 20


def make_points(n, rng):
    """Points in two rings; labels for both tasks: angular sector (8 classes) and ring (2)."""
    angle, ring = rng.uniform(0, 2 * np.pi, n), rng.integers(0, 2, n)
    radius = 1.0 + ring + 0.15 * rng.normal(size=n)
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1).astype("float32")
    return x, np.minimum(angle / (2 * np.pi) * 8, 7).astype("int32"), ring


def main():
    if DEVICE not in ("cpu", "gpu") or not tf.config.list_physical_devices(DEVICE.upper()):
        sys.exit(f"error: TensorFlow device {DEVICE!r} is not available on this machine")
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)

    with tf.device(f"/{DEVICE.upper()}:0"), tempfile.TemporaryDirectory() as tmp:
        # 1. Stand-in for a model hub: pretrain on the base task, save the model.
        x, sector, _ = make_points(2000, rng)
        base = keras.Sequential([
            keras.Input(shape=(2,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(64, activation="relu", name="features"),
            keras.layers.Dense(8, activation="softmax", name="sector_head"),
        ])
        base.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
        history = base.fit(x, sector, epochs=PRETRAIN_EPOCHS, batch_size=64, verbose=0)
        print(f"pretrain: loss {history.history['loss'][0]:.4f} -> {history.history['loss'][-1]:.4f}")
        path = os.path.join(tmp, "base.keras")
        base.save(path)

        # 2. Fine-tuning. With real weights this step would be a download, e.g.
        #    body = keras.applications.MobileNetV3Small(weights="imagenet", include_top=False, pooling="avg")
        #    (or keras_hub.models.Backbone.from_preset("bert_base_en")), then the same steps below.
        loaded = keras.models.load_model(path)
        body = keras.Model(loaded.inputs, loaded.get_layer("features").output)  # all but the old head
        body.trainable = False  # freeze: its weights get no updates (set before compile)
        model = keras.Sequential([body, keras.layers.Dense(2, activation="softmax", name="ring_head")])
        model.compile(optimizer=keras.optimizers.Adam(0.03), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        print(f"trainable weights: {sum(int(np.prod(w.shape)) for w in model.trainable_weights)} of "
              f"{sum(int(np.prod(w.shape)) for w in model.weights)}")

        x_new, _, ring = make_points(200, rng)  # few labelled examples
        first_loss, _ = model.evaluate(x_new, ring, verbose=0)
        history = model.fit(x_new, ring, epochs=FINE_TUNE_EPOCHS, batch_size=32, verbose=0)
        for epoch in range(4, FINE_TUNE_EPOCHS, 5):
            print(f"fine-tune epoch {epoch + 1:3d}  loss {history.history['loss'][epoch]:.4f}")
        final_loss, _ = model.evaluate(x_new, ring, verbose=0)
        x_test, _, ring_test = make_points(1000, rng)
        _, accuracy = model.evaluate(x_test, ring_test, verbose=0)

    print(f"new-task accuracy on held-out points: {accuracy:.1%}")
    print(f"first_loss={first_loss:.6f}")
    print(f"final_loss={final_loss:.6f}")


if __name__ == "__main__":
    main()
