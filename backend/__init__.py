"""The FastAPI web app: REST API under /api, HTML pages and live streams (explorer and job dashboard).

It uses ``addrop`` for every number it shows and adds no algorithm of its own.
"""
