"""Exception types for user mistakes; the CLI turns each into one line and a non-zero exit."""


class MlopsError(Exception):
    """A problem the user can fix: bad input, missing object, wrong setting."""


class SettingsError(MlopsError):
    """An environment variable, `.env` entry or parameters.json key is invalid."""


class DatasetNotFoundError(MlopsError):
    """A dataset name or version does not exist in the dataset registry."""


class DataValidationError(MlopsError):
    """A data file does not satisfy the data checks."""


class PipelineNotFoundError(MlopsError):
    """No published pipeline (or more than one) matches a name and version."""


class ModelNotFoundError(MlopsError):
    """A registered model, version or alias does not exist."""


class AlreadyRegisteredError(MlopsError):
    """The model of a run is already a registered model version."""


class StepFailedError(MlopsError):
    """A pipeline step ended with an error."""


class ModelLoadError(MlopsError):
    """A model URI cannot be resolved or the model it names cannot be served."""


class ScoringInputError(MlopsError):
    """A scoring request is malformed; `status_code` is the HTTP status to answer with."""

    status_code = 400
    error_code = "BAD_REQUEST"


class PayloadTooLargeError(ScoringInputError):
    """A scoring request's body is larger than the configured limit."""

    status_code = 413
    error_code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaTypeError(ScoringInputError):
    """A scoring request's body is not declared as JSON."""

    status_code = 415
    error_code = "UNSUPPORTED_MEDIA_TYPE"


class AuthenticationError(MlopsError):
    """A scoring call has no key or the wrong key."""


class CollectedDataError(MlopsError):
    """A collected-data file holds a record that cannot be read."""


class DatabaseUnreachableError(MlopsError):
    """A database (registry or tracking backend) cannot be reached or refuses the login."""


class TrackingUnavailableError(MlopsError):
    """The MLflow tracking server did not answer within the retry bound."""


class TeamSettingsError(MlopsError):
    """A tracking server lacks the team settings `mlops server start` records."""


class StepContractError(MlopsError):
    """A step's input folder lacks the output of the step before it, or holds an invalid one."""


class AzureExtraMissingError(MlopsError):
    """An Azure ML command needs the optional `azure` packages, which are not installed."""


class AzureWorkspaceError(MlopsError):
    """The Azure ML workspace settings or an Azure credential are missing."""


class AzureAssetError(MlopsError):
    """A compiled Azure ML asset does not pass the SDK's validation, or its folder is unusable."""


class EndpointError(MlopsError):
    """An endpoint is not running, already running elsewhere, or its deployment cannot proceed."""


class DeploymentFailedError(MlopsError):
    """A rollout stopped (load check or smoke test failed); the previous deployment serves on."""


class ModelArtifactError(MlopsError):
    """A CI model artifact file (model.json) is missing or does not hold a model version."""


class BatchInputError(MlopsError):
    """A batch-scoring input is missing, unreadable or does not fit the model's signature."""


class BatchOutputError(MlopsError):
    """A batch-scoring output cannot be written where it was asked for."""


class BatchScoringError(MlopsError):
    """The model failed on a chunk of a batch-scoring job's rows."""


class RejectThresholdError(MlopsError):
    """A batch-scoring job rejected more rows than its --error-threshold allows."""
