"""The "Evaluate" step: challenger against the current champion."""
