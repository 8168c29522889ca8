"""The one score every trial, fold and export is judged by: MAPE of prices in dollars."""

#: Keras metric name of the price-space MAPE (``PriceMAPE``).
METRIC = "price_mape"
#: The search objective: the metric on a fold's validation rows (lower is better).
OBJECTIVE = f"val_{METRIC}"
