"""Who is acting: every evaluation, approval, close, reopen, adjustment and review records a name.

The name is the one given (``kpi --as NAME``), else ``$KPI_USER``, else the operating system's user.
It is what the audit trail shows and what four-eyes checks compare; it is not authentication (the
database's own access control is), so a deployment that needs proof of identity sets ``KPI_USER``
from its login, or runs each person's commands under their own OS account.
"""

from __future__ import annotations

import getpass
import os

from .errors import ConfigurationError

__all__ = ["USER_ENV", "acting_user"]

USER_ENV = "KPI_USER"
_MAX = 100


def acting_user(given: str | None = None) -> str:
    """The name of whoever acts: ``given``, else ``$KPI_USER``, else the OS user."""
    name = given if given is not None else os.environ.get(USER_ENV) or _os_user()
    name = name.strip()
    if not name:
        raise ConfigurationError("the name of who acts is empty.", hint=f"give --as NAME or set ${USER_ENV}")
    if len(name) > _MAX or not name.isprintable():
        raise ConfigurationError(
            f"{name[:40]!r} is not a usable name for the audit trail (at most {_MAX} printable characters).",
            hint=f"give --as NAME or set ${USER_ENV}",
        )
    return name


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no entry in the password database (a container's numeric user)
        return f"uid-{os.getuid()}" if hasattr(os, "getuid") else "unknown"
