"""The domains of Amazon Personalize (VIDEO_ON_DEMAND, ECOMMERCE) and their use cases: one table that the
mirror (which serves each use case with a local recipe) and the SDK (which makes recommenders) both read.

>>> use_case("most-popular", VIDEO_ON_DEMAND).name
'aws-vod-most-popular'
>>> domain_name("e-commerce")
'ECOMMERCE'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from personalize_kit.kinds import RECIPE_ARN_PREFIX

if TYPE_CHECKING:
    from personalize_kit.recipes import RecipeInfo

VIDEO_ON_DEMAND = "VIDEO_ON_DEMAND"
ECOMMERCE = "ECOMMERCE"
#: The domains by the names project files and the command line use.
DOMAINS = {"video-on-demand": VIDEO_ON_DEMAND, "e-commerce": ECOMMERCE}
#: How ratings become the event types a domain's use cases train on (``data.event_mapping`` by default).
EVENT_MAPPINGS = {VIDEO_ON_DEMAND: "Watch:3", ECOMMERCE: "Purchase:4,View:1"}
#: Seconds of Trending now's trend interval in the mirror (the service discovers trends every 30 minutes to a
#: day, by its own choice for this use case).
TREND_INTERVAL = 86_400.0
_PREFIXES = {VIDEO_ON_DEMAND: "aws-vod-", ECOMMERCE: "aws-ecomm-"}
_POPULARITY = RECIPE_ARN_PREFIX + "aws-popularity-count"
_SIMS = RECIPE_ARN_PREFIX + "aws-sims"
_USER = RECIPE_ARN_PREFIX + "aws-user-personalization"


@dataclass(frozen=True)
class UseCase:
    """A use case of a domain: its recipe as the service names it, and the local recipe serving it."""

    name: str
    domain: str
    recipe_type: str
    description: str
    #: The local recipe that serves it.
    serves_with: str
    #: Event types it trains on (case-insensitive; empty: every event).
    event_types: tuple[str, ...] = ()
    #: The event type whose items the requesting user interacted with are left out of the answer.
    excludes: str | None = None
    #: Whether GetRecommendations needs a userId (related-items use cases also need an itemId).
    needs_user: bool = True
    #: Whether training needs an Items dataset.
    needs_items: bool = False
    #: Keyword arguments of the local recipe for this use case.
    options: tuple[tuple[str, float], ...] = ()

    @property
    def arn(self) -> str:
        return RECIPE_ARN_PREFIX + self.name

    @property
    def short(self) -> str:
        """The name without the domain's prefix (``most-popular``), as project files write it."""
        return self.name.removeprefix(_PREFIXES[self.domain])

    @property
    def local(self) -> RecipeInfo:
        from personalize_kit.recipes import RECIPES

        return RECIPES[self.serves_with]


USE_CASES: dict[str, UseCase] = {
    case.arn: case
    for case in (
        UseCase("aws-vod-top-picks", VIDEO_ON_DEMAND, "USER_PERSONALIZATION", "Top picks for you.", _USER, (), "watch"),
        UseCase(
            "aws-vod-because-you-watched-x",
            VIDEO_ON_DEMAND,
            "RELATED_ITEMS",
            "Because you watched X: items watched together with X.",
            _SIMS,
            ("watch",),
            "watch",
        ),
        UseCase(
            "aws-vod-more-like-x",
            VIDEO_ON_DEMAND,
            "RELATED_ITEMS",
            "More like X.",
            _SIMS,
            (),
            "watch",
            needs_items=True,
        ),
        UseCase(
            "aws-vod-most-popular", VIDEO_ON_DEMAND, "USER_PERSONALIZATION", "Most popular.", _POPULARITY, ("watch",)
        ),
        UseCase(
            "aws-vod-trending-now",
            VIDEO_ON_DEMAND,
            "USER_PERSONALIZATION",
            "Trending now: the items whose viewers rose most in the newest day.",
            _POPULARITY,
            options=(("trend_interval", TREND_INTERVAL),),
        ),
        UseCase(
            "aws-ecomm-recommended-for-you",
            ECOMMERCE,
            "USER_PERSONALIZATION",
            "Recommended for you.",
            _USER,
            (),
            "purchase",
        ),
        UseCase(
            "aws-ecomm-customers-who-viewed-x-also-viewed",
            ECOMMERCE,
            "RELATED_ITEMS",
            "Customers who viewed X also viewed.",
            _SIMS,
            ("view",),
            "purchase",
        ),
        UseCase(
            "aws-ecomm-frequently-bought-together",
            ECOMMERCE,
            "RELATED_ITEMS",
            "Frequently bought together.",
            _SIMS,
            ("purchase",),
            needs_user=False,
        ),
        UseCase(
            "aws-ecomm-popular-items-by-purchases",
            ECOMMERCE,
            "USER_PERSONALIZATION",
            "Best sellers.",
            _POPULARITY,
            ("purchase",),
        ),
        UseCase(
            "aws-ecomm-popular-items-by-views",
            ECOMMERCE,
            "USER_PERSONALIZATION",
            "Most viewed.",
            _POPULARITY,
            ("view",),
        ),
    )
}


def domain_name(value: str) -> str:
    """The service's name of a domain given as ``video-on-demand``, ``e-commerce`` or the service's own name;
    ``ValueError`` naming the choices otherwise."""
    text = str(value).strip()
    if text.upper() in DOMAINS.values():
        return text.upper()
    if text.lower() in DOMAINS:
        return DOMAINS[text.lower()]
    raise ValueError(f"unknown domain {text!r}; use one of {', '.join(DOMAINS)}")


def use_cases(domain: str) -> list[UseCase]:
    """Every use case of ``domain`` (a service domain name), in the table's order."""
    return [case for case in USE_CASES.values() if case.domain == domain]


def use_case(value: str, domain: str) -> UseCase:
    """The use case of ``domain`` named ``value``: short (``most-popular``), service name or recipe ARN."""
    name = str(value).strip().rsplit("/", 1)[-1]
    for case in use_cases(domain):
        if name in (case.name, case.short):
            return case
    raise ValueError(
        f"{name!r} is not a use case of {domain}; use one of {', '.join(c.short for c in use_cases(domain))}"
    )


__all__ = [
    "DOMAINS",
    "ECOMMERCE",
    "EVENT_MAPPINGS",
    "USE_CASES",
    "VIDEO_ON_DEMAND",
    "UseCase",
    "domain_name",
    "use_case",
    "use_cases",
]
