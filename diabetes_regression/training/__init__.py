"""Training: pure functions (train.py) and the "Train model" step (train_aml.py).

scipy.special is imported here, before the step imports MLflow, for skops'
sake: when skops is first imported (to save a model, or load one) it names
every SciPy ufunc by searching `sys.modules` in import order for a module that
holds it, so each ufunc costs one attribute look-up per module imported before
scipy.special. Imported after MLflow, pandas and pandera (about 3,000 modules;
scikit-learn imports scipy.special late), that search took about 1 CPU second
of the Train step; imported first, a fraction of that. The names found, and so
the model files, are the same either way. `mlops run` does the same before
anything else (a step package is imported only after MLflow there).
"""

import scipy.special  # noqa: F401
