"""The diabetes regression model: its data contract, training, evaluation, registration, scoring."""
