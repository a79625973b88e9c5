import json

import numpy as np
import pandas as pd
from django.core.management import call_command


def test_churn_eval_prints_metrics_for_a_generated_csv(tmp_path, capsys):
    rng = np.random.default_rng(3)
    n = 240
    latent = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "account": [f"A{i}" for i in range(n)],
            "tickets": np.round(5 + 3 * latent + rng.normal(size=n)).clip(0),
            "logins": np.round(20 - 6 * latent + rng.normal(scale=2, size=n)).clip(0),
            "plan": rng.choice(["basic", "pro", "enterprise"], size=n),
            "status": np.where(latent + rng.normal(scale=0.5, size=n) > 0.6, "lost", "active"),
        }
    )
    frame.loc[::17, "logins"] = np.nan  # blanks are imputed
    path = tmp_path / "export.csv"
    frame.to_csv(path, index=False)
    call_command("churn_eval", "--csv", str(path), "--label", "status", "--positive", "lost", "--id-column", "account")
    result = json.loads(capsys.readouterr().out.strip())
    assert set(result) >= {"accuracy", "precision", "recall", "roc_auc", "threshold", "n_rows"}
    assert result["n_rows"] == n
    assert result["recall"] >= 0.75
    assert result["roc_auc"] > 0.8
