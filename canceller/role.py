"""The IAM permissions deploy.sh grants the function, derived from the kind registry and
from canceller.org_apis, for deploy.sh (which runs ``python3 -m canceller.role ...`` with
the repository on PYTHONPATH: the registry, org_apis and this use the standard library
only). One permission a line, sorted.

    python3 -m canceller.role [SETTING ...]                  a target project's role: the
                                                             Dataproc calls
    python3 -m canceller.role --scope [SETTING ...]          a folder's or an organisation's
                                                             role: those, and the calls that
                                                             find where work is in it
    python3 -m canceller.role --project-scope [SETTING ...]  a project's role when the
                                                             function works at organisation
                                                             scale: the same, less what only
                                                             a folder or organisation holds
    python3 -m canceller.role --billing-account              the billing account's: reading
                                                             a budget and the projects it pays
                                                             for

Each SETTING is one deploy.sh turns on (CLUSTER_DELETE_ALLOWED): the permissions of the
calls it allows are added.
"""

from __future__ import annotations

import sys

from canceller.kinds import KINDS, role_permissions
from canceller.org_apis import permissions_on

# Where the role is granted, besides a target project: a folder or an organisation; a
# project the function also searches and resolves budgets in; the billing account (whose
# role holds no Dataproc permission, and takes no setting).
OPTIONS = ("--scope", "--project-scope", "--billing-account")
# A permission on folders or organisations means nothing on a project, and IAM refuses it
# in a project-level custom role ("Permission ... is not valid").
ABOVE_PROJECT = frozenset({"folders", "organizations"})


def held_by_a_project(permission: str) -> bool:
    """Whether a project-level custom role may hold the permission: not one whose
    resource (service.RESOURCE.verb) is a folder or an organisation."""
    return permission.split(".")[1] not in ABOVE_PROJECT


def permissions(option: str | None, settings: frozenset[str]) -> tuple[str, ...]:
    """The role's permissions for one of OPTIONS (None: a target project's)."""
    if option == "--billing-account":
        return permissions_on("billing account")
    wanted = set(role_permissions(settings))
    if option is not None:
        wanted.update(permissions_on("scope"))
    if option == "--project-scope":
        wanted = {permission for permission in wanted if held_by_a_project(permission)}
    return tuple(sorted(wanted))


def main(arguments: list[str]) -> int:
    option = arguments[0] if arguments and arguments[0].startswith("--") else None
    settings = arguments[1:] if option is not None else arguments
    if option is not None and option not in OPTIONS:
        print(f"unknown option {option}; known: {', '.join(OPTIONS)}", file=sys.stderr)
        return 2
    known = {
        setting for kind in KINDS.values() for setting in kind.optional_permission_verbs.values()
    }
    if option == "--billing-account" and settings:
        print("--billing-account takes no setting", file=sys.stderr)
        return 2
    if unknown := sorted(set(settings) - known):
        print(
            f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
            file=sys.stderr,
        )
        return 2
    print("\n".join(permissions(option, frozenset(settings))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
