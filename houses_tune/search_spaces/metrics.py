"""The objective metric and the price-space losses, in backend-agnostic ``keras.ops``.

All are registered serializable, so saved models load with ``safe_mode=True``.
"""

import keras
from keras import ops

from houses_tune.objective import MAPE, Objective

# exp() of a larger log-price error overflows float32; such a prediction is
# hopeless anyway, so its error is capped (at about 5e34 %) instead of inf/NaN.
_MAX_LOG_ERROR = 80.0
# The loss caps log errors much lower: a prediction 150 times off still gets a gradient
# that points back (the cap only flattens beyond it), and no step can overflow.
_LOSS_LOG_ERROR = 5.0


def price_ape(y_true, y_pred, transform: str, scale: float = 1.0, cap: float = _MAX_LOG_ERROR):
    """Absolute percentage errors (in %) of prices, from targets in ``transform`` space.

    Args:
        y_true: True targets, as produced by ``TargetTransform.forward``.
        y_pred: Predicted targets, same space.
        transform: ``"max_scale"`` (target = price / scale) or ``"log"`` (target = ln price).
        scale: The max_scale divisor (ignored for ``log``).
        cap: Largest log-price error counted (``log`` only).

    Returns:
        A float32 tensor of ``100 * |price_true - price_pred| / price_true``, flattened.
    """
    return _price_errors(y_true, y_pred, transform, scale, cap, relative=True)


def price_ae(y_true, y_pred, transform: str, scale: float = 1.0, cap: float = _MAX_LOG_ERROR):
    """Absolute errors of prices (in dollars): ``|price_true - price_pred|``, flattened.

    Same arguments as ``price_ape``; no division, so any sign of target is fine
    (``max_scale``; ``log`` targets are positive by construction).
    """
    return _price_errors(y_true, y_pred, transform, scale, cap, relative=False)


def _price_errors(y_true, y_pred, transform: str, scale: float, cap: float, relative: bool):
    y_true = ops.reshape(ops.cast(y_true, "float32"), (-1,))
    y_pred = ops.reshape(ops.cast(y_pred, "float32"), (-1,))
    if transform == "log":
        # |p - q| / p = |1 - exp(ln q - ln p)|: no dollars-sized floats needed.
        fraction = ops.abs(1.0 - ops.exp(ops.clip(y_pred - y_true, -cap, cap)))
        return 100.0 * fraction if relative else ops.exp(y_true) * fraction
    if transform != "max_scale":
        raise ValueError(f"unknown target transform {transform!r}")
    prices_true, prices_pred = y_true * scale, y_pred * scale
    error = ops.abs(prices_true - prices_pred)
    if not relative:
        return error
    return 100.0 * error / ops.maximum(ops.abs(prices_true), keras.config.epsilon())


class _MeanPriceError(keras.metrics.Metric):
    """The mean of ``_errors`` over the rows seen; subclasses say which errors."""

    def __init__(self, transform="max_scale", scale=1.0, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.transform = transform
        self.scale = float(scale)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def _errors(self, y_true, y_pred):
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Accumulate the errors of one batch."""
        errors = self._errors(y_true, y_pred)
        weights = ops.ones_like(errors)
        if sample_weight is not None:
            weights = ops.reshape(ops.cast(sample_weight, "float32"), (-1,)) * weights
        self.total.assign_add(ops.cast(ops.sum(errors * weights), self.dtype))
        self.count.assign_add(ops.cast(ops.sum(weights), self.dtype))

    def result(self):
        """The mean error so far."""
        return ops.divide_no_nan(self.total, self.count)

    def reset_state(self):
        """Forget accumulated errors."""
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        """Config for serialization."""
        return {
            "transform": self.transform,
            "scale": self.scale,
            "name": self.name,
            "dtype": self.dtype,
        }


@keras.saving.register_keras_serializable(package="houses_tune")
class PriceMAPE(_MeanPriceError):
    """Mean absolute percentage error on prices in dollars, whatever the target transform.

    Reported as ``price_mape`` (``val_price_mape`` on validation data): the
    ``mape`` objective, so trials with different losses and target transforms are
    compared on the same scale.

    Args:
        transform: The trial's target transform name (``"max_scale"`` or ``"log"``).
        scale: The transform's scale (max training price for ``max_scale``).
        name: Metric name.
        dtype: Metric dtype.
    """

    def __init__(self, transform="max_scale", scale=1.0, name=MAPE.metric, dtype=None):
        super().__init__(transform, scale, name=name, dtype=dtype)

    def _errors(self, y_true, y_pred):
        return price_ape(y_true, y_pred, self.transform, self.scale)


@keras.saving.register_keras_serializable(package="houses_tune")
class PriceMAE(_MeanPriceError):
    """Mean absolute error of prices (the target's units), whatever the target transform:
    ``price_mae``, the ``mae`` objective. Arguments as ``PriceMAPE``'s."""

    def __init__(self, transform="max_scale", scale=1.0, name="price_mae", dtype=None):
        super().__init__(transform, scale, name=name, dtype=dtype)

    def _errors(self, y_true, y_pred):
        return price_ae(y_true, y_pred, self.transform, self.scale)


def objective_metric(objective: Objective, transform) -> keras.metrics.Metric:
    """The Keras metric of ``objective`` for a fitted ``TargetTransform``."""
    kind = {"mape": PriceMAPE, "mae": PriceMAE}[objective.name]
    return kind(transform.name, transform.scale, name=objective.metric)


@keras.saving.register_keras_serializable(package="houses_tune")
class PriceMAPELoss(keras.losses.Loss):
    """The ``mape`` loss: MAPE of the price, for either target transform.

    Under ``max_scale`` it is Keras' MAPE of price / max price (the tutorials' loss: the
    scale cancels out). Under ``log`` it is ``100 * |1 - exp(y_pred - y_true)|``, the
    same percentage error of the price, computed from log prices.

    Args:
        transform: The trial's target transform name.
        scale: The max_scale divisor.
        name: Loss name.
        reduction: Keras loss reduction.
        dtype: Loss dtype.
    """

    def __init__(
        self,
        transform="max_scale",
        scale=1.0,
        name="price_mape_loss",
        reduction="sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.transform = transform
        self.scale = float(scale)

    def call(self, y_true, y_pred):
        """Per-example percentage error of the price."""
        return price_ape(y_true, y_pred, self.transform, self.scale, cap=_LOSS_LOG_ERROR)

    def get_config(self):
        """Config for serialization."""
        return {**super().get_config(), "transform": self.transform, "scale": self.scale}


@keras.saving.register_keras_serializable(package="houses_tune")
class LogPriceMSE(keras.losses.Loss):
    """The ``msle`` loss: mean squared error of ln(price), for either target transform.

    Under ``log`` the network predicts ln(price), so this is plain MSE. Under
    ``max_scale`` it is ``(ln max(y_pred, 1e-6) - ln y_true)^2`` (the scale cancels
    out). Unlike ``keras.losses.MSLE`` there is no ``+1`` inside the log, which
    would make it nearly MSE for targets around 0.1.

    Args:
        transform: The trial's target transform name.
        name: Loss name.
        reduction: Keras loss reduction.
        dtype: Loss dtype.
    """

    def __init__(
        self,
        transform="max_scale",
        name="log_price_mse",
        reduction="sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.transform = transform

    def call(self, y_true, y_pred):
        """Per-example squared log-price error."""
        y_true = ops.cast(y_true, y_pred.dtype)
        if self.transform != "log":
            y_pred = ops.log(ops.maximum(y_pred, 1e-6))
            y_true = ops.log(ops.maximum(y_true, 1e-6))
        return ops.mean(ops.square(y_pred - y_true), axis=-1)

    def get_config(self):
        """Config for serialization."""
        return {**super().get_config(), "transform": self.transform}
