"""Grading machinery: release of student notebooks and manifest, and the grader that runs submissions in kernels.

Notebooks never import this package; they use ``course_utils.exercises.check``. See docs/grading.md.
"""
