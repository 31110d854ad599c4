"""Models: resolve a model URI, load the model safely, score inputs (service, batch, score.py)."""
