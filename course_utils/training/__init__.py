"""Training: one budgeted ``fit`` for every model, and the callbacks it uses."""
from course_utils.training.callbacks import CosineByProgress, EpochLine, SampleGrid, TimeBudget
from course_utils.training.fit import TrainResult, fit_with_budget

__all__ = ["CosineByProgress", "EpochLine", "SampleGrid", "TimeBudget", "TrainResult", "fit_with_budget"]
