"""The model card's metrics table shows what the report measured, interval ends included."""

from radis_core.model_card import render_model_card


def test_metric_rows_show_both_ends_of_each_interval():
    interval = {"delta": 1.5, "low": -0.25, "high": 3.25, "verdict": "no measurable difference"}
    report = {
        "translation": {
            "n": 8,
            "bleu": {"base": 20.0, "tuned": 21.5, "delta": 1.5, "interval": interval},
            "chrf": {"base": 50.0, "tuned": 50.0, "delta": 0.0},
            "comet": {"available": False},
        },
        "retention": {"available": False, "reason": "retention benchmarks were not run"},
    }
    card = render_model_card({"method": "radis"}, report, {})
    bleu_row = next(line for line in card.splitlines() if line.startswith("| BLEU"))
    assert "[-0.25, +3.25]" in bleu_row and "no measurable difference" in bleu_row
    assert "20.00" in bleu_row and "21.50" in bleu_row and "+1.50" in bleu_row
    chrf_row = next(line for line in card.splitlines() if line.startswith("| chrF++"))
    assert chrf_row.count("not computed") == 2
