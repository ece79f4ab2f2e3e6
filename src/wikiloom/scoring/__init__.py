"""Scoring: requests for scores, the score cache, loaded models, and the precache of new edits."""
