"""Workflow exceptions, one line each (like rq/exceptions.py). Messages are French, for users."""


class WorkflowError(Exception):
    """Base class; str(exc) is a French message fit for a flash."""


class RoleRefused(WorkflowError):
    """The actor's role may not run this transition."""


class TransitionRefused(WorkflowError):
    """A guard refused the transition for this row."""


class UnknownTransition(WorkflowError):
    """No transition by that name in this workflow."""


class StaleVersion(WorkflowError):
    """The record changed since the user loaded it."""


class InvalidParameters(WorkflowError):
    """The transition's parameter form did not validate."""
