"""Why the default space's learning rate starts at 1e-3: steps against a round's epochs.

A plain Keras reproduction of the pipeline houses-tune ships (log-price target, attribute
MLP, one model per inner fold early-stopped on its own rows, the fold models averaged in
log space), for a few fixed configurations, each scored on the tutorial split (test MAPE)
and in 5-fold CV over all houses (the export's outer folds), next to ridge on the same
rows. The epoch caps are a Hyperband round's (43 at budget 3000) and a generous 500.
Not a test: run it by hand (about 10 minutes on 2 CPU cores), e.g.

    python benchmarks/step_size.py
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

FULL_DATASET = Path(__file__).resolve().parents[1].parent / "shared/houses-dataset/Houses Dataset"
# (widths, loss, learning rate, batch, epoch cap, patience)
CONFIGS = (
    ((32, 16), "huber", 1e-3, 16, 43, 10),
    ((32, 16), "huber", 1e-3, 16, 500, 30),
    ((64, 32), "huber", 3e-3, 8, 43, 10),
    ((64, 32), "huber", 1e-2, 8, 43, 10),
    ((64, 32), "mae", 1e-2, 8, 43, 10),
)


def main() -> None:
    import keras
    import numpy as np
    from sklearn.model_selection import KFold

    from houses_tune.data import load_houses
    from houses_tune.data.splits import make_splits
    from houses_tune.results.baselines import ridge_prices
    from houses_tune.results.metrics import mape

    houses = load_houses(FULL_DATASET if FULL_DATASET.exists() else None)
    frame = houses.frame
    prices = frame["price"].to_numpy()
    numbers = np.stack([frame.bedrooms, frame.bathrooms, np.log(frame.area)], 1)

    def features(train, rows):
        zips = np.sort(frame.zipcode.iloc[train].unique())
        one_hot = frame.zipcode.to_numpy()[rows, None] == zips[None]
        low, high = numbers[train].min(0), numbers[train].max(0)
        return np.concatenate([(numbers[rows] - low) / (high - low), one_hot], 1).astype("f4")

    def fold_model(config, train, val, seed):
        widths, loss, rate, batch, epochs, patience = config
        keras.utils.set_random_seed(seed)
        target = np.log(prices).astype("f4")
        inputs = keras.Input((features(train, train[:1]).shape[1],))
        x = inputs
        for width in widths:
            x = keras.layers.Dense(width, activation="relu")(x)
        mean = keras.initializers.Constant(float(target[train].mean()))
        out = keras.layers.Dense(1, kernel_initializer="zeros", bias_initializer=mean)(x)
        model = keras.Model(inputs, out)
        model.compile(keras.optimizers.Adam(rate), keras.losses.Huber(0.1) if loss == "huber"
                      else "mae")  # fmt: skip
        stop = keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True)
        model.fit(features(train, train), target[train], batch_size=batch, epochs=epochs,
                  validation_data=(features(train, val), target[val]), callbacks=[stop],
                  verbose=0)  # fmt: skip
        return model

    def bag(config, train, test):
        logs = []
        for k, (a, b) in enumerate(KFold(5, shuffle=True, random_state=0).split(train)):
            model = fold_model(config, train[a], train[b], k)
            logs.append(model.predict(features(train[a], test), verbose=0)[:, 0])
        return np.exp(np.mean(logs, 0))

    splits = make_splits(len(houses))
    outer = list(KFold(5, shuffle=True, random_state=0).split(np.arange(len(houses))))
    ridge_cv = [mape(prices[b], ridge_prices(houses, a, b)) for a, b in outer]
    backend = f"Keras {keras.__version__} on {keras.config.backend()}"
    print(f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
          f"{backend}; {len(houses)} houses")  # fmt: skip
    ridge_test = mape(prices[splits.test], ridge_prices(houses, splits.search, splits.test))
    print(f"ridge on log price: test {ridge_test:.2f}%, "
          f"5-fold CV {np.mean(ridge_cv):.2f} ± {np.std(ridge_cv):.2f}")  # fmt: skip
    print("widths loss lr batch epochs patience | test MAPE | 5-fold CV | folds won vs ridge")
    for config in CONFIGS:
        started = time.perf_counter()
        test = mape(prices[splits.test], bag(config, splits.search, splits.test))
        cv = [mape(prices[b], bag(config, a, b)) for a, b in outer]
        won = sum(c < r for c, r in zip(cv, ridge_cv, strict=True))
        widths, loss, rate, batch, epochs, patience = config
        print(f"{'-'.join(map(str, widths))} {loss} {rate:g} {batch} {epochs} {patience} | "
              f"{test:.2f}% | {np.mean(cv):.2f} ± {np.std(cv):.2f} | {won}/5 "
              f"({time.perf_counter() - started:.0f} s)", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
