"""The "Evaluate" step: challenger against the current champion.

scipy.special is imported before the step imports MLflow: loading a model imports skops,
which is much faster then (see diabetes_regression/training/__init__.py).
"""

import scipy.special  # noqa: F401
