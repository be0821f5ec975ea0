"""The risk model's pure parts: synthetic cohorts (synth), and later features, training, evaluation and
the model card. No Django import."""

from scoring.risk.synth import SyntheticSitting, cohort

__all__ = ["SyntheticSitting", "cohort"]
