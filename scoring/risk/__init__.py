"""The risk model's pure parts (no Django import): the Django side keeps the registry and commands.

- ``synth``: synthetic cohorts (a latent-factor model with interview outcomes) for the demo and tests;
- ``features``: one sitting as one named row of numbers (``FeatureSpec``, ``row``, ``matrix``);
- ``train``: the calibrated scikit-learn pipelines, fitting, probabilities, the top contributions;
- ``evaluate``: stratified cross-validated metrics, calibration and per-group results;
- ``card``: the model card (JSON and Markdown, zh-Hans and en) with ROC and calibration pictures;
- ``store``: models saved with skops and loaded only when their SHA-256 digest matches.

The model is a screening aid, not a diagnosis: it can raise a tier within the tier policy's
allowance (``scoring.tiers.raise_tier``), never lower one.
"""

from scoring.risk.features import FeatureSpec, matrix, plain_name, row
from scoring.risk.synth import SyntheticSitting, cohort

__all__ = ["FeatureSpec", "SyntheticSitting", "cohort", "matrix", "plain_name", "row"]
