"""Expected-return shrinkage estimators and portfolio allocators."""
