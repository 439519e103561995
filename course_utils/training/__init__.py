"""Training: one budgeted ``fit`` for every model, and the callbacks it uses."""
from course_utils.training.callbacks import CosineByProgress, EpochLine, SampleGrid, TimeBudget
from course_utils.training.fit import TrainResult, fit_with_budget
from course_utils.training.precision import dtype_policy

__all__ = ["CosineByProgress", "EpochLine", "SampleGrid", "TimeBudget", "TrainResult", "dtype_policy", "fit_with_budget"]
