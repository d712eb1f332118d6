"""The exceptions the library raises; only ``cli.py`` turns them into exit codes.

::

    PipelineError              anything we raise on purpose (exit 1: failed run)
    ├── ConfigError            bad config file, taxonomy or option (exit 2)
    ├── InputError             an input file that cannot be read at all (exit 1)
    │   └── RejectsExceeded    too many rows rejected (exit 3)
    ├── ModelError             missing, tampered or incompatible model (exit 1)
    ├── RunLocked              another run holds the store's lock (exit 1)
    ├── ScoringError           scoring failed inside a worker process (exit 1)
    └── PromotionRefused       a candidate that does not beat the champion (exit 1)
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base of every error the pipeline raises on purpose."""

    exit_code = 1


class ConfigError(PipelineError):
    """A config file, taxonomy or command-line option is invalid."""

    exit_code = 2


class InputError(PipelineError):
    """An input file is missing, unreadable or lacks required columns."""

    exit_code = 1


class RejectsExceeded(InputError):
    """More input rows were rejected than the configured tolerance allows."""

    exit_code = 3


class ModelError(PipelineError):
    """A model directory is missing, tampered with or built by incompatible versions."""

    exit_code = 1


class RunLocked(PipelineError):
    """Another run holds the store's lock and did not let go within the configured wait."""

    exit_code = 1


class ScoringError(PipelineError):
    """Scoring a chunk failed, in this process or in a worker process."""

    exit_code = 1


class PromotionRefused(PipelineError):
    """The candidate model does not beat the champion by the configured margin."""


class ReportError(PipelineError):
    """Building the report failed in a helper process."""

    exit_code = 1
