"""Write data/diabetes.csv from scikit-learn's bundled diabetes set (442 rows).

Run: python data/make_diabetes_csv.py [OUTPUT]. The file is committed; a test
checks that this script reproduces it byte for byte.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from sklearn.datasets import load_diabetes

COLUMNS = ["AGE", "SEX", "BMI", "BP", "S1", "S2", "S3", "S4", "S5", "S6"]


def diabetes_frame() -> pd.DataFrame:
    """The scaled diabetes features with MLOpsPython's column names, target Y."""
    features, target = load_diabetes(return_X_y=True)
    frame = pd.DataFrame(features, columns=COLUMNS)
    frame["Y"] = target
    return frame


def main(argv: list[str] | None = None) -> None:
    """Write the CSV to the given path, or next to this script."""
    args = sys.argv[1:] if argv is None else argv
    output = Path(args[0]) if args else Path(__file__).with_name("diabetes.csv")
    diabetes_frame().to_csv(output, index=False)


if __name__ == "__main__":
    main()
