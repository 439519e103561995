"""nbgrader settings for running the course in an nbgrader course directory (see docs/nbgrader.md).

Copy this file to the root of the nbgrader course directory (next to ``source/``). Tested with nbgrader 0.9.6.
"""
from nbconvert.preprocessors import TagRemovePreprocessor
from nbgrader.converters import GenerateAssignment

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file

# Answers to the chapter's questions sit in markdown cells tagged 'solution-only'; the course's release leaves
# them out, and so does generate_assignment with this preprocessor run first.
c.GenerateAssignment.preprocessors = [TagRemovePreprocessor, *GenerateAssignment.class_traits()["preprocessors"].default()]
c.TagRemovePreprocessor.enabled = True
c.TagRemovePreprocessor.remove_cell_tags = ["solution-only"]

# nbgrader stops a cell after 30 s by default; chapters train models, and the course's own grader allows 300 s.
c.Execute.timeout = 300
