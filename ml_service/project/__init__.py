"""The model project: its package (found through SOURCES_DIR_TRAIN), bootstrap, notebooks, docs."""
