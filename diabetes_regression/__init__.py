"""The diabetes Ridge regression use case: training, evaluation, registration, scoring."""
