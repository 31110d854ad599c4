"""What CI systems hand each other: the model artifact a training build publishes."""
