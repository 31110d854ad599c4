"""Peer (a): the bare minimum, no tracking: load, split, fit, score."""

import sys

import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import train_test_split

frame = pd.read_csv(sys.argv[1])
X_train, X_test, y_train, y_test = train_test_split(
    frame.drop(columns=["Y"]), frame["Y"], test_size=0.2, random_state=0
)
model = Ridge(alpha=0.4).fit(X_train, y_train)
print(mean_squared_error(y_test, model.predict(X_test)))
