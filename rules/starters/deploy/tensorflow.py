"""Train a tiny Keras classifier, export a SavedModel and a TFLite model, reload both and check them.

model.export() writes a TensorFlow SavedModel (what TF Serving and Vertex AI serve);
tf.saved_model.load() brings it back without Keras or the model code. The SavedModel is then
converted to TFLite (LiteRT), the format for phones and microcontrollers, and run with its
interpreter. Both reloaded artifacts must give the trained model's outputs.
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

try:  # LiteRT, the TFLite runtime's new home (pip install ai-edge-litert)
    from ai_edge_litert.interpreter import Interpreter
except ImportError:  # tf.lite.Interpreter still works, with a deprecation warning
    Interpreter = tf.lite.Interpreter

# Where to train: "cpu" or "gpu".
DEVICE = "cpu"
EPOCHS = 10


def make_blobs(n, rng):
    """Three Gaussian blobs in 4 dimensions, one per class."""
    centers = np.array([[2.0, 0, 0, 1], [0, 2.0, 1, 0], [-1, -1, -2.0, 0]])
    y = rng.integers(0, 3, n)
    return (centers[y] + rng.normal(size=(n, 4))).astype("float32"), y


def run_tflite(tflite_bytes, x):
    interpreter = Interpreter(model_content=tflite_bytes)
    input_index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(input_index, x.shape)  # exported with a dynamic batch size
    interpreter.allocate_tensors()
    interpreter.set_tensor(input_index, x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def main():
    if DEVICE not in ("cpu", "gpu") or not tf.config.list_physical_devices(DEVICE.upper()):
        sys.exit(f"error: TensorFlow device {DEVICE!r} is not available on this machine")
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = make_blobs(600, rng)
    new_x, new_y = make_blobs(200, rng)

    with tf.device(f"/{DEVICE.upper()}:0"):
        model = keras.Sequential([
            keras.Input(shape=(4,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ])
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        first_loss, _ = model.evaluate(x, y, verbose=0)
        history = model.fit(x, y, epochs=EPOCHS, batch_size=32, verbose=0)
        for epoch in range(4, EPOCHS, 5):
            print(f"epoch {epoch + 1:3d}  loss {history.history['loss'][epoch]:.4f}")
        expected = model.predict(new_x, verbose=0)

    with tempfile.TemporaryDirectory() as tmp:
        saved_model_dir = os.path.join(tmp, "classifier")
        model.export(saved_model_dir, verbose=False)  # a SavedModel with a `serve` endpoint
        reloaded = tf.saved_model.load(saved_model_dir)  # no Keras, no model code
        served = reloaded.serve(tf.constant(new_x)).numpy()

        tflite_bytes = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir).convert()
        print(f"SavedModel in {os.path.basename(saved_model_dir)}/, TFLite model {len(tflite_bytes)} bytes")
        on_device = run_tflite(tflite_bytes, new_x)

    for name, outputs in (("SavedModel", served), ("TFLite", on_device)):
        max_diff = float(np.max(np.abs(outputs - expected)))
        if max_diff > 1e-5:
            sys.exit(f"error: the reloaded {name}'s outputs differ by {max_diff}")
        print(f"reloaded {name} matches the trained model (max difference {max_diff:.2e})")
    final_loss = float(keras.losses.sparse_categorical_crossentropy(new_y, served).numpy().mean())
    print(f"accuracy of the reloaded SavedModel on new data: {np.mean(served.argmax(1) == new_y):.1%}")
    print(f"first_loss={first_loss:.6f}")
    print(f"final_loss={final_loss:.6f}")


if __name__ == "__main__":
    main()
