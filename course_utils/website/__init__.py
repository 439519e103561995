"""The course as a static website (``python -m course_utils site``) and the notebook execution it shares with the
chapter-minutes benchmark."""
from course_utils.website.build import main

__all__ = ["main"]
