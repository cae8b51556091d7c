"""scripts/plot_training.py draws the card's figures from a run's history and the data."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib
import pytest
from fakefaces import write_npz

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import plot_training  # noqa: E402


def test_curves_name_the_faces_that_chose_the_epochs(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    history = tmp_path / "history.csv"
    history.write_text("epoch,accuracy,learning_rate,loss,val_accuracy,val_loss\n"
                       "0,0.3,0.001,1.9,0.35,1.7\n1,0.4,0.001,1.6,0.42,1.5\n")
    data = write_npz(tmp_path / "fer.npz", {"Training": 70, "PublicTest": 14})
    labels: list[str] = []
    real_legend = matplotlib.axes.Axes.legend
    monkeypatch.setattr(matplotlib.axes.Axes, "legend", lambda ax, *a, **k: (
        labels.extend(h.get_label() for h in ax.get_lines()), real_legend(ax, *a, **k))[1])
    for validation in ("Validation", "PublicTest"):
        args = ["--history", str(history), "--data", str(data), "--out", str(tmp_path / validation)]
        assert plot_training.main([*args, "--validation", validation]) == 0
        assert (tmp_path / validation / "training_curves.png").stat().st_size > 1000
        assert (tmp_path / validation / "class_distribution.png").exists()
    assert "validation accuracy (Validation)" in labels
    assert "validation loss (PublicTest)" in labels
