"""Objects and URL keywords of the accounts authentication pages for the route walks (see crm_project/testing.py).

(Notifications and users are registered in crm_project/testing.py itself.)
"""

from crm_project.testing import register_route_kwargs, register_world_objects


def _api_token(world):
    from accounts.api_tokens import create_token

    token, _clear = create_token(
        tenant=world.tenant, created_by=world.owner, name="walk", role="viewer", scopes=["read:customers"],
        expires_in_days=1,
    )  # fmt: skip
    return token


def _oidc_provider(world):
    from accounts.models_auth import OIDCProvider

    # Endpoints given explicitly: the walk never reaches the network for a discovery document.
    return OIDCProvider.objects.create(
        slug="walk-sso",
        name="Walk SSO",
        issuer="https://idp.walk.invalid",
        client_id="walk",
        client_secret="walk",
        authorization_endpoint="https://idp.walk.invalid/authorize",
        token_endpoint="https://idp.walk.invalid/token",
        jwks_uri="https://idp.walk.invalid/jwks",
    )


register_world_objects({"api_token": _api_token, "oidc_provider": _oidc_provider})
register_route_kwargs(
    {
        "accounts:api_token_revoke.pk": "api_token",
        "accounts:oidc_login.slug": lambda world: world["oidc_provider"].slug,
    }
)
