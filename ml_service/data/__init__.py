"""Data: versioned datasets, the data checks, the one datastore resolver, collected scoring data."""
