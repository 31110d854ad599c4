"""Staged deployment: endpoints, blue/green and canary rollouts, rollback, history."""
