"""Write data/diabetes.csv from the model package's sample data (scikit-learn's diabetes set).

Run: python data/make_diabetes_csv.py [OUTPUT]. The file is committed; a test
checks that this script reproduces it byte for byte.
"""

from __future__ import annotations

import sys
from pathlib import Path

from diabetes_regression.sample_data import sample_frame


def main(argv: list[str] | None = None) -> None:
    """Write the CSV to the given path, or next to this script."""
    args = sys.argv[1:] if argv is None else argv
    output = Path(args[0]) if args else Path(__file__).with_name("diabetes.csv")
    sample_frame().to_csv(output, index=False)


if __name__ == "__main__":
    main()
