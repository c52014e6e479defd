"""Exceptions and warnings raised by chainlab."""

from __future__ import annotations

from pathlib import Path


class ChainlabError(Exception):
    """Base class of chainlab's errors."""


class C3DError(ChainlabError, ValueError):
    """A C3D file cannot be read.

    The message is one line: the file, what is wrong, and what was expected.
    """

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = " ".join(str(reason).split())
        super().__init__(f"{self.path}: {self.reason}")


class C3DWarning(UserWarning):
    """A C3D file was read, but something in it was repaired or assumed."""


class ModelInputError(ChainlabError, ValueError):
    """A model cannot run on a trial: missing measurements, markers or static trial.

    The message names the trial, what is missing and where it was looked for.
    """


def warning_line(message, category, filename, lineno, line=None) -> str:
    """A warning as the command line prints it (``warnings.formatwarning``): its kind and its
    message on one line, without Python's source file and line (the message names the file)."""
    text = " ".join(str(message).split())
    return f"{category.__name__}: {text}\n"
