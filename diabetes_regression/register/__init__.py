"""The "Register" step: a new model version with its lineage, moved to @champion."""
