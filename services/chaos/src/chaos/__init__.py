"""Fault drills on a running playground: kill -9, pause, broker restart, graceful restarts."""
