"""Roles are Django groups with permissions; apps add the permissions their features need."""

from __future__ import annotations

TENANT_ADMIN = "tenant_admin"
CS_LEAD = "cs_lead"
CSM = "csm"
FINANCE = "finance"
VIEWER = "viewer"

ROLE_CODES = (TENANT_ADMIN, CS_LEAD, CSM, FINANCE, VIEWER)

# Money (contract amounts, a customer's lifetime value) follows one field permission, granted by the contracts
# app to finance, leads and admins. Named here, in the lowest layer, so customers can mask `ltv` without importing
# contracts. Everyone else sees MASK.
AMOUNT_PERMISSION = "contracts.view_contract_amount"
MASK = "***"


def can_see_amounts(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.has_perm(AMOUNT_PERMISSION))


def masked_money(value, user):
    """`value` for users who may see money, MASK for everyone else."""
    return value if can_see_amounts(user) else MASK


# Contact details (a contact's phone, mobile, e-mail, WeChat) follow one permission too, granted by the customers
# app to admins, leads and CSMs. Everyone else (finance, viewers, a missing user) sees them masked in one shape on
# every surface: pages, API, exports, documents, notifications (`138****8000`, `z***@abc-tech.com`, `w***`).
CONTACT_DETAILS_PERMISSION = "customers.view_contact_details"
CONTACT_DETAIL_FIELDS = {"phone": "phone", "mobile": "phone", "email": "email", "wechat": "wechat"}


def can_see_contact_details(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.has_perm(CONTACT_DETAILS_PERMISSION))


def mask_contact_detail(kind: str, value):
    """The masked shape of one contact detail; `kind` is a field name (phone, mobile, email, wechat) or a kind."""
    from crm_project.logmask import mask_email, mask_phone, mask_wechat

    if not value:
        return value
    kind = CONTACT_DETAIL_FIELDS.get(kind, kind)
    if kind == "email":
        return mask_email(str(value))
    if kind == "phone":
        return mask_phone(str(value))
    return mask_wechat(str(value))


def masked_contact_detail(kind: str, value, user=None, *, visible: bool | None = None):
    """`value` for users allowed to see contact details, its masked shape for everyone else."""
    allowed = can_see_contact_details(user) if visible is None else visible
    return value if allowed else mask_contact_detail(kind, value)


# role -> "app_label.codename" permissions. Apps extend this from their AppConfig.ready().
ROLE_PERMISSIONS: dict[str, set[str]] = {
    TENANT_ADMIN: {
        "accounts.view_auditlog",
        "accounts.view_jobrun",
        "accounts.view_user",
        "accounts.add_user",
        "accounts.change_user",
        "accounts.view_integrationkey",
        "accounts.add_integrationkey",
        "accounts.change_integrationkey",
        "accounts.view_apitoken",
        "accounts.add_apitoken",
        "accounts.change_apitoken",
        "accounts.view_oidcprovider",
        "accounts.change_oidcprovider",
        "accounts.view_oidcidentity",
        "accounts.view_totpdevice",
        "accounts.delete_totpdevice",
    },
    CS_LEAD: {"accounts.view_user"},
    CSM: set(),
    FINANCE: set(),
    VIEWER: set(),
}


def register_role_permissions(mapping: dict[str, set[str] | list[str]]) -> None:
    """Add permissions to roles; called by each app when it loads."""
    for role, perms in mapping.items():
        if role not in ROLE_PERMISSIONS:
            raise ValueError(f"unknown role {role!r}")
        ROLE_PERMISSIONS[role].update(perms)


def sync_roles(**_kwargs) -> None:
    """Create the role groups and give them exactly their registered permissions (runs after migrate)."""
    from django.contrib.auth.models import Group, Permission

    wanted = {perm for perms in ROLE_PERMISSIONS.values() for perm in perms}
    by_key = {}
    for perm in Permission.objects.select_related("content_type").filter(
        codename__in={p.split(".", 1)[1] for p in wanted}
    ):
        by_key[f"{perm.content_type.app_label}.{perm.codename}"] = perm
    for role in ROLE_CODES:
        group, _created = Group.objects.get_or_create(name=role)
        group.permissions.set([by_key[p] for p in sorted(ROLE_PERMISSIONS[role]) if p in by_key])
