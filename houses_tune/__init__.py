"""houses-tune: find the best neural network for house prices from photos and attributes."""

__version__ = "0.1.0"
