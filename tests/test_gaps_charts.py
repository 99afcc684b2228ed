"""Charts draw the numbers they claim (issue 15: a non-blank PNG proves little).

Each test captures the figure handed to ``save_figure`` and reads back the plotted
data, compared with the quantity computed by hand from the inputs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.reports.charts import forecast as forecast_charts
from backtest.reports.charts import portfolio as portfolio_charts


@pytest.fixture
def captured(monkeypatch):
    figures = []

    def capture(module):
        real = module.save_figure

        def save(fig, path):
            figures.append(fig)
            return real(fig, path)

        monkeypatch.setattr(module, "save_figure", save)

    capture(forecast_charts)
    capture(portfolio_charts)
    return figures


def _months(n):
    return pd.date_range("2021-01-31", periods=n, freq="ME", name="date")


def test_cumulative_sse_panels_plot_the_goyal_welch_difference(captured, tmp_path):
    index = _months(4)
    realised = pd.DataFrame({"A": [0.05, -0.02, 0.01, 0.03], "B": [0.0, 0.04, -0.01, 0.02]}, index)
    forecast = pd.DataFrame({"A": [0.02, 0.0, 0.0, 0.01], "B": [0.01, 0.01, 0.0, 0.0]}, index)
    bench = pd.DataFrame(0.01, index=index, columns=["A", "B"])
    forecast_charts.plot_cumulative_sse_difference(realised, forecast, bench, tmp_path / "s.png")
    (fig,) = captured
    gain = 1e4 * ((realised - bench) ** 2 - (realised - forecast) ** 2)
    expected = {
        "A": gain["A"].cumsum(),
        "B": gain["B"].cumsum(),
        "pooled": gain.sum(axis=1).cumsum(),
    }
    panels = {ax.get_title(loc="left").split(":")[0]: ax for ax in fig.axes if ax.lines}
    assert set(panels) == set(expected)
    for name, values in expected.items():
        line = panels[name].lines[0]
        np.testing.assert_allclose(line.get_ydata(), values.to_numpy(), rtol=1e-12)
        assert f"final {values.iloc[-1]:+,.0f}" in panels[name].get_title(loc="left")
    # A: 1e4 * [(0.04^2 - 0.03^2), (0.03^2 - 0.02^2), (0 - 0.01^2), (0.02^2 - 0.02^2)]
    np.testing.assert_allclose(expected["A"], [7.0, 12.0, 11.0, 11.0], rtol=1e-9)


def test_equity_curves_plot_wealth_from_one_and_its_drawdown(captured, tmp_path):
    index = _months(4)
    returns = pd.DataFrame(
        {"s1": [0.10, -0.10, -0.10, 0.05], "equal_weight": [0.0, 0.02, 0.0, 0.01]}, index
    )
    portfolio_charts.plot_equity_curves(returns, tmp_path / "e.png", ["equal_weight"])
    (fig,) = captured
    wealth = [1.0, 1.1, 0.99, 0.891, 0.93555]
    drawdown = [0.0, 0.0, -0.1, -0.19, 0.93555 / 1.1 - 1]
    found_wealth = found_dd = False
    for ax in fig.axes:
        for line in ax.lines:
            y = np.asarray(line.get_ydata(), dtype=float)
            if y.shape == (5,) and np.allclose(y, wealth, rtol=1e-12):
                found_wealth = True
                assert pd.Timestamp(line.get_xdata()[0]) == pd.Timestamp("2020-12-31")
            if y.shape == (5,) and (
                np.allclose(y, drawdown) or np.allclose(y, 100 * np.array(drawdown))
            ):
                found_dd = True
    assert found_wealth and found_dd
