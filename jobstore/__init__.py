"""The job store shared by the web app and the workers: the database and its migrations, the ORM, every job
state transition, the stored-config versions, the job queue (sending by task name), Optuna's study storage,
and the settings these need. It imports neither torch nor transformers, nor the web app or the worker.
"""
