"""``fake_organisation``: an organisation description (dataproc_emulator/organisation.py)
of a chosen size, for tests, benchmarks and demos.

Names are predictable so a test can say what it expects without working it out again:

- folders ``team-1`` .. ``team-N`` (ids 2001, 2002, ...) under organisation
  ORGANIZATION_ID, each holding ``projects_per_folder`` projects
  ``{prefix}-f{i}-p{j}``;
- ``subfolders`` folders nested under ``team-1`` (ids 2101, 2102, ...; ``team-1-sub-k``),
  each holding ``projects_per_folder`` projects ``{prefix}-f1s{k}-p{j}``;
- ``org_projects`` projects directly under the organisation, ``{prefix}-o-p{j}``;
- ``other_account_projects`` more projects in ``team-1``, ``{prefix}-f1-x{j}``, paid for
  by OTHER_BILLING_ACCOUNT (a budget over ``team-1`` does not cover them);
- every other project paid for by BILLING_ACCOUNT; project numbers 300000000001 on, in
  the order above;
- two budgets on BILLING_ACCOUNT: BUDGET_ID over ``folders/2001`` (``team-1`` and so its
  subfolders) and WHOLE_ACCOUNT_BUDGET_ID with an empty filter (the whole account).

The result is plain data: change it before seeding for anything else.
"""

from __future__ import annotations

from typing import Any

ORGANIZATION_ID = "123456789012"
BILLING_ACCOUNT = "012345-567890-ABCDEF"
OTHER_BILLING_ACCOUNT = "0A0A0A-0B0B0B-0C0C0C"
BUDGET_ID = "budget-team-1"
WHOLE_ACCOUNT_BUDGET_ID = "budget-whole-account"
FIRST_FOLDER_ID = 2001
FIRST_SUBFOLDER_ID = 2101
FIRST_PROJECT_NUMBER = 300_000_000_001


def fake_organisation(
    folders: int = 2,
    projects_per_folder: int = 2,
    *,
    subfolders: int = 1,
    org_projects: int = 1,
    other_account_projects: int = 0,
    prefix: str = "org",
    budget_units: int = 1000,
) -> dict[str, Any]:
    """The description; ``subfolders`` and ``other_account_projects`` need a first folder."""
    if folders < 1 and (subfolders or other_account_projects):
        raise ValueError("subfolders and other_account_projects go in the first folder")
    organisation = f"organizations/{ORGANIZATION_ID}"
    first = f"folders/{FIRST_FOLDER_ID}"
    folder_list: list[dict[str, Any]] = []
    placed: list[tuple[str, str, str]] = []  # (project id, parent, billing account)
    for i in range(1, folders + 1):
        folder_id = str(FIRST_FOLDER_ID + i - 1)
        folder_list.append({"id": folder_id, "parent": organisation, "displayName": f"team-{i}"})
        placed += [
            (f"{prefix}-f{i}-p{j}", f"folders/{folder_id}", BILLING_ACCOUNT)
            for j in range(1, projects_per_folder + 1)
        ]
    for k in range(1, subfolders + 1):
        folder_id = str(FIRST_SUBFOLDER_ID + k - 1)
        folder_list.append({"id": folder_id, "parent": first, "displayName": f"team-1-sub-{k}"})
        placed += [
            (f"{prefix}-f1s{k}-p{j}", f"folders/{folder_id}", BILLING_ACCOUNT)
            for j in range(1, projects_per_folder + 1)
        ]
    placed += [
        (f"{prefix}-o-p{j}", organisation, BILLING_ACCOUNT) for j in range(1, org_projects + 1)
    ]
    placed += [
        (f"{prefix}-f1-x{j}", first, OTHER_BILLING_ACCOUNT)
        for j in range(1, other_account_projects + 1)
    ]
    projects = [
        {
            "projectId": project_id,
            "number": str(FIRST_PROJECT_NUMBER + index),
            "parent": parent,
            "billingAccount": account,
        }
        for index, (project_id, parent, account) in enumerate(placed)
    ]
    amount = {"specifiedAmount": {"currencyCode": "USD", "units": str(budget_units)}}
    return {
        "organization": {"id": ORGANIZATION_ID, "displayName": "example.com"},
        "folders": folder_list,
        "projects": projects,
        "billingAccounts": [
            {"id": BILLING_ACCOUNT, "displayName": "Main billing account"},
            {"id": OTHER_BILLING_ACCOUNT, "displayName": "Another team's account"},
        ],
        "budgets": [
            {
                "billingAccount": BILLING_ACCOUNT,
                "id": BUDGET_ID,
                "displayName": "team-1 monthly",
                "budgetFilter": {"resourceAncestors": [first]},
                "amount": amount,
            },
            {
                "billingAccount": BILLING_ACCOUNT,
                "id": WHOLE_ACCOUNT_BUDGET_ID,
                "displayName": "whole account monthly",
                "amount": amount,
            },
        ],
    }
