"""The model package: the project's own model code, found through SOURCES_DIR_TRAIN.

The platform never imports a model package by name. A model package (the
diabetes_regression template, or one made by `mlops bootstrap`) has a
`parameters` module with `PARAMETERS_PATH` (its parameters.json),
`ModelParameters` (a pydantic model with a `data` section of `DataChecks`) and
`load_parameters(path)`; its steps are modules named by the settings.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from pydantic import BaseModel

from ml_service.data.checks import DataChecks
from ml_service.errors import SettingsError
from ml_service.settings import Env


@dataclass(frozen=True)
class ModelPackage:
    """A model package: its import name, folder and `parameters` module."""

    name: str
    directory: Path
    parameters_module: ModuleType

    @property
    def parameters_path(self) -> Path:
        """The package's parameters.json."""
        return Path(self.parameters_module.PARAMETERS_PATH)

    @property
    def parameters_model(self) -> type[BaseModel]:
        """The pydantic model parameters.json is validated with."""
        return cast(type[BaseModel], self.parameters_module.ModelParameters)

    def load_parameters(self) -> Any:
        """parameters.json, validated by the package's own model.

        Raises:
            SettingsError: the file is missing, not JSON, or has a wrong key or value.
        """
        return self.parameters_module.load_parameters(self.parameters_path)

    def data_checks(self) -> DataChecks:
        """The `data` section of parameters.json: what a data file of this model must satisfy."""
        checks = self.load_parameters().data
        if not isinstance(checks, DataChecks):
            raise SettingsError(
                f"{self.name}.parameters: the `data` section must be ml_service's DataChecks"
            )
        return checks


def model_package(env: Env) -> ModelPackage:
    """The model package SOURCES_DIR_TRAIN names.

    A package in the current folder is importable, as with `python -m` (a
    bootstrapped project runs from its own folder).

    Raises:
        SettingsError: SOURCES_DIR_TRAIN names no importable package with a `parameters` module.
    """
    name = env.sources_dir_train
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(f"{name}.parameters")
    except ModuleNotFoundError as err:
        raise SettingsError(
            f"SOURCES_DIR_TRAIN: cannot import {name}.parameters ({err}); run from the folder "
            f"holding the {name}/ package, or set SOURCES_DIR_TRAIN to your model package"
        ) from err
    missing = [
        attribute
        for attribute in ("PARAMETERS_PATH", "ModelParameters", "load_parameters")
        if not hasattr(module, attribute)
    ]
    if missing:
        raise SettingsError(
            f"SOURCES_DIR_TRAIN: {name}.parameters lacks {', '.join(missing)}; "
            "see docs/bring-your-own-model.md"
        )
    origin = module.__file__
    directory = Path(origin).resolve().parent if origin else Path.cwd()
    return ModelPackage(name=name, directory=directory, parameters_module=module)
