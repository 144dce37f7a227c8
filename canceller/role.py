"""The IAM permissions the function's role needs, derived from the kind registry, for
deploy.sh (which runs ``python3 -m canceller.role [SETTING ...]`` with the repository on
PYTHONPATH: the registry and this use the standard library only).

Each argument is a setting deploy.sh turns on (CLUSTER_DELETE_ALLOWED): the permissions
of the calls it allows are added. One permission a line, sorted.
"""

from __future__ import annotations

import sys

from canceller.kinds import KINDS, role_permissions


def main(arguments: list[str]) -> int:
    known = {
        setting for kind in KINDS.values() for setting in kind.optional_permission_verbs.values()
    }
    if unknown := sorted(set(arguments) - known):
        print(
            f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
            file=sys.stderr,
        )
        return 2
    print("\n".join(role_permissions(frozenset(arguments))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
