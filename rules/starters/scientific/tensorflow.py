"""Recover the frequency and damping of a damped oscillator by gradient descent through its simulation.

A custom Keras layer holds the two physical parameters as weights and integrates
x'' = -omega^2 x - 2 zeta omega x' with RK4 steps in keras.ops, so compile() + fit()
backpropagate through the whole simulation. Inputs are starting states, targets are noisy
measured trajectories.
Run it with:  python train_tensorflow.py
"""
import math
import os
import sys

# Both must be set before TensorFlow / Keras are imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide TensorFlow's C++ info logs
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import numpy as np
import tensorflow as tf
from keras import ops

# Where to train: "cpu" or "gpu".
DEVICE = "cpu"
TRUE_OMEGA, TRUE_ZETA = 2.0, 0.15
DT, N_STEPS = 0.2, 30  # simulate 6 seconds
EPOCHS = 40


class DampedOscillator(keras.layers.Layer):
    """Maps starting states (batch, 2) to positions after each RK4 step (batch, N_STEPS)."""

    def __init__(self, omega, zeta, **kwargs):
        super().__init__(**kwargs)
        # Log-parameters: they stay positive, and both are on a similar scale for Adam.
        self.log_omega = self.add_weight(shape=(), initializer=keras.initializers.Constant(math.log(omega)))
        self.log_zeta = self.add_weight(shape=(), initializer=keras.initializers.Constant(math.log(zeta)))

    def call(self, state):
        omega, zeta = ops.exp(self.log_omega), ops.exp(self.log_zeta)

        def derivative(s):
            x, v = s[:, 0], s[:, 1]
            return ops.stack([v, -omega**2 * x - 2 * zeta * omega * v], axis=1)

        def rk4_step(s, _):
            k1 = derivative(s)
            k2 = derivative(s + DT / 2 * k1)
            k3 = derivative(s + DT / 2 * k2)
            k4 = derivative(s + DT * k3)
            s = s + DT / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            return s, s  # (carry, output collected over steps)

        # ops.scan is a real loop in the graph (tf.while_loop), not 30 unrolled copies.
        _, states = ops.scan(rk4_step, state, length=N_STEPS)  # (N_STEPS, batch, 2)
        return ops.transpose(states[:, :, 0])  # positions, (batch, N_STEPS)


def main():
    if DEVICE not in ("cpu", "gpu") or not tf.config.list_physical_devices(DEVICE.upper()):
        sys.exit(f"error: TensorFlow device {DEVICE!r} is not available on this machine")
    keras.utils.set_random_seed(0)  # seeds Python, NumPy and TensorFlow at once
    rng = np.random.default_rng(0)

    # 32 experiments with random starting states, "measured" with the true parameters plus noise.
    x0 = rng.uniform(-1, 1, (32, 2)).astype("float32")
    truth = ops.convert_to_numpy(DampedOscillator(TRUE_OMEGA, TRUE_ZETA)(x0))
    observed = (truth + 0.02 * rng.normal(size=truth.shape)).astype("float32")

    with tf.device(f"/{DEVICE.upper()}:0"):
        layer = DampedOscillator(omega=1.4, zeta=0.4)  # a wrong first guess
        model = keras.Sequential([keras.Input(shape=(2,)), layer])
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.05), loss="mse")
        first_loss = model.evaluate(x0, observed, verbose=0)
        history = model.fit(x0, observed, epochs=EPOCHS, batch_size=16, verbose=0)
        for epoch in range(9, EPOCHS, 10):
            print(f"epoch {epoch + 1:3d}  mse {history.history['loss'][epoch]:.5f}")
        final_loss = model.evaluate(x0, observed, verbose=0)

    print(f"omega: fitted {math.exp(float(layer.log_omega.numpy())):.4f}  true {TRUE_OMEGA}")
    print(f"zeta:  fitted {math.exp(float(layer.log_zeta.numpy())):.4f}  true {TRUE_ZETA}")
    print(f"first_loss={first_loss:.6f}")
    print(f"final_loss={final_loss:.6f}")


if __name__ == "__main__":
    main()
