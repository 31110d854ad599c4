"""MLOpsPython's path to the settings; they live in `ml_service.settings`."""

from ml_service.settings import Env, load_env

__all__ = ["Env", "load_env"]
