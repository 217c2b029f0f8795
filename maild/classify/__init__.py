"""Spam, fraud and inappropriate-content classification and rule tags.

Public API (import from the modules; this package imports nothing heavy on its own so
that ``import maild.classify.message`` stays cheap for the ingest path):

* ``message``: ``MessageText`` (the model input), ``Link``, ``LABELS``.
* ``mime.message_from_raw(raw) -> MessageText`` for a full RFC 822 message.
* ``model``: ``load_model(path, expected_digest=None) -> Classifier``,
  ``Classifier.predict(items) -> list[maild.domain.Verdict]``, ``save_model``.
* ``artifact.ModelError``: a model file that is missing, damaged, tampered with or
  incompatible.
* ``train.train(paths, out, seed, progress, shippable_only=...) -> TrainReport``.
* ``evaluate.evaluate(paths, model) -> EvaluationReport``.
* ``corpus``: the shared JSONL(.gz) loader and the licence rules for a shipped model.
* ``upstream.write_contrast_ham(corpora_dir, out)``: the extra ham the shipped model uses.
"""
