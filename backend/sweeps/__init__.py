"""Sweeps: a search over AD-DROP settings for one base job, its trials run as ordinary jobs beside baseline
twins with AD-DROP off. ``service`` is what the API calls; ``rounds`` advances a sweep by ask-and-tell under
``lease`` (the app runs a round every few seconds: ``backend.periodic``), ``views`` and ``importance`` read a sweep
back."""
