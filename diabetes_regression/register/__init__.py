"""The "Register" step: a new model version with its lineage, moved to @champion.

scipy.special is imported before the step imports MLflow: loading a model imports skops,
which is much faster then (see diabetes_regression/training/__init__.py).
"""

import scipy.special  # noqa: F401
