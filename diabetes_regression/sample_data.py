"""Sample data of this model: scikit-learn's bundled diabetes set with MLOpsPython's column names.

`data/make_diabetes_csv.py` writes it to data/diabetes.csv; `mlops bootstrap`
writes it into a new project, so the project's pipeline can run at once.
"""

from __future__ import annotations

import pandas as pd
from sklearn.datasets import load_diabetes

COLUMNS = ["AGE", "SEX", "BMI", "BP", "S1", "S2", "S3", "S4", "S5", "S6"]


def sample_frame() -> pd.DataFrame:
    """The scaled diabetes features (442 rows) with MLOpsPython's column names, target Y."""
    features, target = load_diabetes(return_X_y=True)
    frame = pd.DataFrame(features, columns=COLUMNS)
    frame["Y"] = target
    return frame
