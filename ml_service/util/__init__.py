"""Small shared utilities: settings read from the environment."""
