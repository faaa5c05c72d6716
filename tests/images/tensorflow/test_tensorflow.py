"""TensorFlow images: the data-science stack imports and Keras actually learns (on the CPU here)."""

from __future__ import annotations

from tests.images.conftest import docker_run, pin, uncompiled

TRAIN = r"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, tensorflow as tf
rng = np.random.default_rng(0)
x = rng.normal(size=(2048, 8)).astype("float32")
y = (x @ rng.normal(size=(8, 1)) + 0.1 * rng.normal(size=(2048, 1))).astype("float32")
model = tf.keras.Sequential([tf.keras.Input((8,)), tf.keras.layers.Dense(16, activation="relu"), tf.keras.layers.Dense(1)])
model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss="mse")
before = model.evaluate(x, y, verbose=0)
model.fit(x, y, epochs=1, batch_size=64, verbose=0)
after = model.evaluate(x, y, verbose=0)
print(before, after)
"""


def test_data_science_stack_imports(image):
    out = docker_run(image, "python -c 'import numpy, pandas, matplotlib, sklearn, tensorflow as tf; print(tf.__version__)' 2>/dev/null")
    assert out.strip() == pin("tensorflow")


def test_keras_model_trains_one_epoch_and_loss_falls(image):
    before, after = map(float, docker_run(image, f"python -c '{TRAIN}' 2>/dev/null").split())
    assert after < before * 0.5, (before, after)


def test_importing_tensorflow_finds_every_module_compiled(image):
    assert uncompiled(image, ["tensorflow", "numpy", "pandas", "matplotlib.pyplot", "sklearn"]) == []
