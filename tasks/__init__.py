"""Tasks: benchmark loaders, answer extraction and scoring."""
