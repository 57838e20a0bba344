"""Sweeps: a search over AD-DROP settings for one base job, its trials run as ordinary jobs beside baseline
twins with AD-DROP off. ``service`` is what the API calls; ``rounds`` advances a sweep by ask-and-tell under
``lease``, ``polling`` runs the rounds, ``views`` and ``importance`` read a sweep back."""
