"""trust-survey: find NHS departments that could host clinical bioinformatics STP trainees."""

__version__ = "0.1.0"
