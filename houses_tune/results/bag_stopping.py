"""How long export trains the fold models of the bag it ships (imports nothing, so the CLI's
``--help`` stays fast).

The search's fold models stopped where Hyperband's rounds cut them short; trained again on
the same folds for at most ``BAG_EPOCHS`` epochs, each stopped when its validation score has
not improved for ``BAG_PATIENCE`` epochs, the bag scored better in 5-fold CV on the Houses
Dataset (README, "Training the bag").
"""

BAG_EPOCHS = 100
BAG_PATIENCE = 30
