"""Model compression: FP16, INT8 (dynamic, static, accuracy-aware), pruning and weight sharing.

One module per technique under ``steps/``, registered once (``step.py``);
``recipe.py`` holds typed, JSON-saveable jobs; ``runner.py`` runs them with
progress and cancellation and writes results atomically; ``job.py`` runs one in
a separate process for the studio. No Qt here: the wizard lives in segview.ui.

Nothing is imported here, so ``segview.compress.paths`` stays cheap to import.
"""
