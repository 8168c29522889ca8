"""The search: budget planning, tuner construction, hooks, TensorBoard, progress.

- ``budget``: ``parse_budget``, ``plan_search`` -> ``SearchPlan`` (no heavy imports).
- ``build``: ``build_tuner`` -> a KerasTuner Hyperband / RandomSearch / BayesianOptimization
  with our hooks (the one place tuners are made, also for distributed workers).
- ``search``: ``run_search(SearchSettings) -> SearchOutcome`` (what ``houses-tune search`` runs).
- ``monitor``, ``tensorboard``, ``progress``: what happens around each trial and epoch.
"""
