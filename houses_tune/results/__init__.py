"""Run folders, trial listings, export of the best model, reports and prediction."""
