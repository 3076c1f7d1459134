"""The project's error hierarchy. Messages name the item and the reason."""


class PipelineError(Exception):
    """Base class of every error the pipeline raises on purpose."""


class ConfigError(PipelineError):
    """params.yaml or a config value is wrong."""


class IngestError(PipelineError):
    """A source file or record cannot be read."""


class DataValidationError(PipelineError):
    """Too little good data remains after validation for the stage to go on."""


class TrainingError(PipelineError):
    """Training cannot start or diverged."""


class PartialTrainingError(TrainingError):
    """Some members of a training grid diverged; the others were trained and recorded (`results`, by config)."""

    def __init__(self, message: str, results: dict):
        super().__init__(message)
        self.results = results


class TrackingError(PipelineError):
    """MLflow failed: a tracking store that does not answer, or a call to it."""


class VersioningError(PipelineError):
    """DVC failed: not installed, or a command that exited with an error."""


class StorageError(PipelineError):
    """A file could not be written (disk full, permissions); the previous version of it is kept."""
