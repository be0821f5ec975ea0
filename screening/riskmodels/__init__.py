"""The risk model's Django side: the registry of trained models (scope, status, digest, card) and
their activation. The modelling itself is pure Python in ``scoring/risk``."""
