"""Forecasters sharing one interface: ``fit(X, y) -> self`` and ``predict(X)``."""
