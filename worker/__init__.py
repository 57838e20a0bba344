"""Celery workers that turn job records into ``addrop.finetune`` runs and report their progress."""
