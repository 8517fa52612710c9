"""The declarative project file: what a pipeline run should make exist, in YAML or JSON.

Everything has a default, so an empty file (or none) is a working project. Validation happens before any
AWS call; an error names the key (``solutions[1].recipe``) and what to write instead.

.. code-block:: yaml

    name: movielens                  # the dataset group; resources are named after it
    data:
      source: default                # a MovieLens folder, "synthetic" or "default"
      interactions: 100000           # synthetic only
      event_mapping: "watch:3"
    schemas:                         # schema names (immutable: a changed schema needs a new name)
      interactions: movielens-interactions-v2
    aws:                             # --backend aws: the stack's outputs, or explicit values
      stack: PersonalizeKit
    solutions:
      - recipe: user-personalization
        hyperparameters: {hidden_dimension: 64}
        campaign: {min_provisioned_tps: 1, exploration_weight: 0.3}
    domain: video-on-demand          # or e-commerce: a domain dataset group with recommenders (no solutions)
    recommenders:                    # default: every use case of the domain
      - {use_case: most-popular, name: movielens-popular}
    filters:
      - name: unwatched
        expression: EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("watch")
    tags: {team: recs}
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from personalize_kit.exceptions import ProjectFileError, shorten
from personalize_kit.recipes import RECIPES

NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,62}$")

#: Short recipe names accepted in project files and on the command line, and the service recipe each means.
RECIPE_ALIASES = {
    "user-personalization": "aws-user-personalization",
    "sims": "aws-sims",
    "personalized-ranking": "aws-personalized-ranking",
    "popularity-count": "aws-popularity-count",
    "trending-now": "aws-trending-now",
    "similar-items": "aws-similar-items",
    "semantic-similarity": "aws-semantic-similarity",
}
#: Recipe types a project deploys as a campaign (segmentation recipes answer batch segment jobs only, and
#: Next-Best-Action needs the Actions datasets, which a project does not create).
CAMPAIGN_RECIPE_TYPES = ("USER_PERSONALIZATION", "PERSONALIZED_RANKING", "RELATED_ITEMS")
RECIPE_TYPES = {info.name: info.recipe_type for info in RECIPES.values()}
SERVICE_RECIPES = tuple(name for name, kind in RECIPE_TYPES.items() if kind in CAMPAIGN_RECIPE_TYPES)


def recipe_name(value: str) -> str:
    """The service recipe name for a short name, a service name or a recipe ARN.

    >>> recipe_name("sims"), recipe_name("arn:aws:personalize:::recipe/aws-sims")
    ('aws-sims', 'aws-sims')
    """
    name = value.rsplit("/", 1)[-1]
    name = RECIPE_ALIASES.get(name, name)
    if name in RECIPE_TYPES and name not in SERVICE_RECIPES:
        raise ValueError(
            f"recipe {name} ({RECIPE_TYPES[name]}) is not deployed as a campaign, which a project does; "
            f"use one of {', '.join(RECIPE_ALIASES)}, or the SDK for its batch jobs"
        )
    if name not in SERVICE_RECIPES:
        raise ValueError(
            f"unknown recipe {shorten(repr(value))}; use one of {', '.join(RECIPE_ALIASES)} (or a service name such as "
            "aws-user-personalization-v2)"
        )
    return name


def short_recipe(name: str) -> str:
    return {v: k for k, v in RECIPE_ALIASES.items()}.get(name, name)


@dataclass
class DataConfig:
    source: str = "default"
    out: str = "out"
    interactions: int | None = None
    seed: int = 0
    event_mapping: str = "watch:3"
    event_value: str = "rating"
    realtime_features: bool = False


@dataclass
class AwsConfig:
    stack: str = "PersonalizeKit"
    bucket: str | None = None
    role_arn: str | None = None
    kms_key_arn: str | None = None
    prefix: str = "data/"


@dataclass
class LocalConfig:
    """The offline mirror's settings (``--backend local``)."""

    #: How fast resources move through the service's states: instant, fast (default) or realistic.
    pace: str | None = None


@dataclass
class CampaignConfig:
    name: str | None = None
    min_provisioned_tps: int = 1
    exploration_weight: float | None = None
    exploration_item_age_cut_off: int | None = None

    def campaign_config(self) -> dict[str, Any]:
        exploration = {}
        if self.exploration_weight is not None:
            exploration["explorationWeight"] = str(self.exploration_weight)
        if self.exploration_item_age_cut_off is not None:
            exploration["explorationItemAgeCutOff"] = str(self.exploration_item_age_cut_off)
        return {"itemExplorationConfig": exploration} if exploration else {}


@dataclass
class SolutionConfig:
    recipe: str
    name: str | None = None
    hyperparameters: dict[str, str] = field(default_factory=dict)
    training_mode: str = "FULL"
    event_type: str | None = None
    campaign: CampaignConfig | None = field(default_factory=CampaignConfig)


@dataclass
class RecommenderConfig:
    """A recommender of a domain project: its use case (the service's recipe name) and its name."""

    use_case: str
    name: str | None = None


@dataclass
class FilterConfig:
    name: str
    expression: str


@dataclass
class BatchConfig:
    solution: str
    input: str
    output: str | None = None
    num_results: int = 25


@dataclass
class Project:
    name: str = "personalize-kit"
    data: DataConfig = field(default_factory=DataConfig)
    aws: AwsConfig = field(default_factory=AwsConfig)
    local: LocalConfig = field(default_factory=LocalConfig)
    solutions: list[SolutionConfig] = field(default_factory=lambda: [SolutionConfig("aws-user-personalization")])
    filters: list[FilterConfig] = field(default_factory=list)
    event_tracker: str | None = None
    batch_inference: list[BatchConfig] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    #: Schema resource names by dataset (``interactions``, ``items``, ``users``); schemas are immutable, so a
    #: changed schema needs a new name here (the dataset then moves to it where the service allows).
    schemas: dict[str, str] = field(default_factory=dict)
    #: The domain of the dataset group (``VIDEO_ON_DEMAND``, ``ECOMMERCE``), or ``None`` for a custom one.
    domain: str | None = None
    recommenders: list[RecommenderConfig] = field(default_factory=list)

    def recommender_name(self, config: RecommenderConfig) -> str:
        from personalize_kit.domains import USE_CASES
        from personalize_kit.recipes import RECIPE_ARN_PREFIX

        return config.name or f"{self.name}-{USE_CASES[RECIPE_ARN_PREFIX + config.use_case].short}"

    def schema_name(self, dataset_type: str) -> str:
        return self.schemas.get(dataset_type.lower()) or f"{self.name}-{dataset_type.lower()}"

    def solution_name(self, solution: SolutionConfig) -> str:
        return solution.name or f"{self.name}-{short_recipe(solution.recipe)}"

    def campaign_name(self, solution: SolutionConfig) -> str:
        assert solution.campaign is not None
        return solution.campaign.name or self.solution_name(solution)

    @property
    def tracker_name(self) -> str:
        return self.event_tracker or f"{self.name}-events"


class _Reader:
    """Reads one mapping of the file, checking types and unknown keys, with the key path in every error."""

    def __init__(self, raw: Any, path: str) -> None:
        if not isinstance(raw, dict):
            raise ProjectFileError(f"{path or 'the project file'} must be a mapping of keys to values")
        self.raw, self.path, self.seen = raw, path, set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        self.seen.add(name)
        if name not in self.raw or self.raw[name] is None:
            return default
        value = self.raw[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            wanted = " or ".join(k.__name__ for k in kinds).replace("str", "text").replace("dict", "mapping")
            raise ProjectFileError(f"{self.key(name)} must be {wanted}, not {shorten(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ProjectFileError(f"{self.key(name)} must be a finite number, not {value}")
        return value

    def name(self, field_name: str, default: str | None = None) -> str | None:
        value = self.get(field_name, str, default)
        if value is not None and not NAME.match(value):
            raise ProjectFileError(
                f"{self.key(field_name)}: {shorten(repr(value))} is not a valid Personalize name (1-63 letters, "
                "digits, - or _, starting with a letter or digit)"
            )
        return value

    def done(self) -> None:
        unknown = sorted(set(self.raw) - self.seen)
        if unknown:
            import difflib

            hints = []
            for key in unknown:
                close = difflib.get_close_matches(key, sorted(self.seen), n=1)
                hints.append(shorten(self.key(str(key)), 60) + (f" (did you mean {close[0]}?)" if close else ""))
            raise ProjectFileError(f"unknown key(s): {', '.join(hints)}; allowed here: {', '.join(sorted(self.seen))}")


def _strings(reader: _Reader, name: str) -> dict[str, str]:
    values = reader.get(name, dict, {})
    for key, value in values.items():
        if not isinstance(value, (str, int, float, bool)):
            raise ProjectFileError(f"{reader.key(name)}.{key} must be a plain value, not {shorten(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ProjectFileError(f"{reader.key(name)}.{key} must be a finite number, not {value}")
    return {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in values.items()}


def check_pace(pace: str | None, where: str) -> str | None:
    """``pace`` if the mirror knows it (``instant``, ``fast``, ``realistic``), else a one-line error for ``where``."""
    if pace is None:
        return None
    from personalize_kit.local.lifecycle import PACES

    if pace.strip().lower() not in PACES:
        raise ProjectFileError(f"{where}: unknown pace {shorten(repr(pace))}; use one of {', '.join(PACES)}")
    return pace.strip().lower()


def parse_project(raw: Any) -> Project:
    """Build and validate a :class:`Project` from parsed YAML/JSON (a dict); ``None`` means all defaults."""
    root = _Reader(raw if raw is not None else {}, "")
    project = Project(name=root.name("name", "personalize-kit") or "personalize-kit")
    from personalize_kit.sdk.domain import default_event_mapping, parse_domain, parse_recommenders

    project.domain = parse_domain(root)

    data = _Reader(root.get("data", dict, {}), "data")
    project.data = DataConfig(
        source=str(data.get("source", str, "default")),
        out=data.get("out", str, "out"),
        interactions=data.get("interactions", int),
        seed=data.get("seed", int, 0),
        event_mapping=data.get("event_mapping", str, default_event_mapping(project.domain)),
        event_value=data.get("event_value", str, "rating"),
        realtime_features=data.get("realtime_features", bool, False),
    )
    data.done()
    if project.data.interactions is not None and project.data.interactions < 1:
        raise ProjectFileError("data.interactions must be a positive number of interactions")
    if project.data.event_value not in ("rating", "none"):
        raise ProjectFileError(
            f"data.event_value must be 'rating' or 'none', not {shorten(repr(project.data.event_value))}"
        )
    from personalize_kit.data.events import EventMapping

    try:
        EventMapping.parse(project.data.event_mapping)
    except ValueError as exc:
        raise ProjectFileError(f"data.event_mapping: {exc}") from None

    aws = _Reader(root.get("aws", dict, {}), "aws")
    project.aws = AwsConfig(
        stack=aws.get("stack", str, "PersonalizeKit"),
        bucket=aws.get("bucket", str),
        role_arn=aws.get("role_arn", str),
        kms_key_arn=aws.get("kms_key_arn", str),
        prefix=aws.get("prefix", str, "data/"),
    )
    aws.done()

    local = _Reader(root.get("local", dict, {}), "local")
    project.local = LocalConfig(pace=check_pace(local.get("pace", str), "local.pace"))
    local.done()

    raw_solutions = root.get("solutions", list)
    project.recommenders = parse_recommenders(root, project.domain)
    if project.domain is not None:
        if raw_solutions:
            raise ProjectFileError(
                "solutions: a domain project makes recommenders, not solutions; list use cases under "
                "recommenders (or leave them out for all), or remove domain"
            )
        project.solutions = []
    elif raw_solutions is not None:
        if not raw_solutions:
            raise ProjectFileError("solutions must list at least one solution (or be left out for the default)")
        project.solutions = [_solution(item, f"solutions[{i}]") for i, item in enumerate(raw_solutions)]
    names = [project.solution_name(s) for s in project.solutions]
    for i, name in enumerate(names):
        if names.index(name) != i:
            raise ProjectFileError(f"solutions[{i}]: the name {name} is used twice; give one of them a name")

    project.filters = []
    for i, item in enumerate(root.get("filters", list, [])):
        reader = _Reader(item, f"filters[{i}]")
        name = reader.name("name")
        expression = reader.get("expression", str)
        reader.done()
        if not name or not expression:
            raise ProjectFileError(f"filters[{i}] needs a name and an expression")
        from personalize_kit.exceptions import FilterSyntaxError
        from personalize_kit.filters import parse_filter

        try:
            parse_filter(expression)
        except FilterSyntaxError as exc:
            raise ProjectFileError(f"filters[{i}].expression: {exc}") from None
        project.filters.append(FilterConfig(name, expression))

    project.event_tracker = root.name("event_tracker")
    project.batch_inference = []
    for i, item in enumerate(root.get("batch_inference", list, [])):
        reader = _Reader(item, f"batch_inference[{i}]")
        batch = BatchConfig(
            solution=reader.get("solution", str) or "",
            input=reader.get("input", str) or "",
            output=reader.get("output", str),
            num_results=reader.get("num_results", int, 25),
        )
        reader.done()
        if batch.solution not in names:
            raise ProjectFileError(f"batch_inference[{i}].solution must name one of the solutions: {', '.join(names)}")
        if not batch.input:
            raise ProjectFileError(f"batch_inference[{i}].input must be a JSON Lines file of users or items")
        if not 1 <= batch.num_results <= 500:
            raise ProjectFileError(
                f"batch_inference[{i}].num_results must be between 1 and 500, not {batch.num_results}"
            )
        project.batch_inference.append(batch)
    schemas = _Reader(root.get("schemas", dict, {}), "schemas")
    project.schemas = {kind: name for kind in ("interactions", "items", "users") if (name := schemas.name(kind))}
    schemas.done()
    project.tags = _strings(root, "tags")
    if len(project.tags) > 200:
        raise ProjectFileError("tags: at most 200 tags")
    root.done()
    return project


def _solution(raw: Any, path: str) -> SolutionConfig:
    reader = _Reader(raw, path)
    recipe = reader.get("recipe", str)
    if recipe is None:
        raise ProjectFileError(f"{path}.recipe is required, e.g. recipe: user-personalization")
    try:
        recipe = recipe_name(recipe)
    except ValueError as exc:
        raise ProjectFileError(f"{path}.recipe: {exc}") from None
    solution = SolutionConfig(
        recipe=recipe,
        name=reader.name("name"),
        hyperparameters=_strings(reader, "hyperparameters"),
        training_mode=reader.get("training_mode", str, "FULL"),
        event_type=reader.get("event_type", str),
    )
    if solution.training_mode not in ("FULL", "UPDATE"):
        raise ProjectFileError(
            f"{path}.training_mode must be FULL or UPDATE, not {shorten(repr(solution.training_mode))}"
        )
    campaign = reader.get("campaign", (dict, bool), {})
    if campaign is False:
        solution.campaign = None
    else:
        c = _Reader(campaign if isinstance(campaign, dict) else {}, f"{path}.campaign")
        solution.campaign = CampaignConfig(
            name=c.name("name"),
            min_provisioned_tps=c.get("min_provisioned_tps", int, 1),
            exploration_weight=c.get("exploration_weight", float),
            exploration_item_age_cut_off=c.get("exploration_item_age_cut_off", int),
        )
        c.done()
        if solution.campaign.min_provisioned_tps < 1:
            raise ProjectFileError(f"{path}.campaign.min_provisioned_tps must be at least 1")
        cut_off = solution.campaign.exploration_item_age_cut_off
        if cut_off is not None and cut_off < 1:
            raise ProjectFileError(
                f"{path}.campaign.exploration_item_age_cut_off must be at least 1 day, not {cut_off}"
            )
        weight = solution.campaign.exploration_weight
        if weight is not None and not 0 <= weight <= 1:
            raise ProjectFileError(f"{path}.campaign.exploration_weight must be in [0, 1], not {weight}")
    reader.done()
    return solution


#: Most aliases a YAML project file may use: enough for any real file, far too few for an alias bomb.
MAX_YAML_ALIASES = 30


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ProjectFileError(f"key {shorten(key, 60)!r} appears twice in one mapping; keep one of them")
        seen[key] = value
    return seen


def _yaml_load(text: str) -> Any:
    """``yaml.safe_load`` that refuses duplicate keys and alias bombs (more than :data:`MAX_YAML_ALIASES`)."""
    import yaml

    class Loader(yaml.SafeLoader):
        aliases = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                Loader.aliases += 1
                if Loader.aliases > MAX_YAML_ALIASES:
                    mark = self.peek_event().start_mark
                    raise ProjectFileError(
                        f"more than {MAX_YAML_ALIASES} YAML aliases (*name), at line {mark.line + 1}; "
                        "write the values out instead of repeating anchors"
                    )
            return super().compose_node(parent, index)

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: list[Any] = []
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise ProjectFileError(
                        f"key {shorten(str(key), 60)!r} appears twice in one mapping (again at line "
                        f"{key_node.start_mark.line + 1}); keep one of them"
                    )
                seen.append(key)
            return super().construct_mapping(node, deep=deep)

    return yaml.load(text, Loader=Loader)  # noqa: S506 - a SafeLoader subclass


def load_project(path: str | Path | None) -> Project:
    """Read a project file (``.yaml``/``.yml``/``.json``); ``None`` gives the zero-config project."""
    if path is None:
        return parse_project(None)
    path = Path(path)
    if path.is_dir():
        raise ProjectFileError(f"project file {path} is a directory; give the path of a YAML or JSON file")
    if not path.is_file():
        raise ProjectFileError(f"project file {path} does not exist; write one (see README) or leave --project out")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProjectFileError(
            f"cannot read project file {path}: {exc.strerror}; give your user access to it or use another file"
        ) from None
    except UnicodeDecodeError as exc:
        raise ProjectFileError(f"project file {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    try:
        raw = json.loads(text, object_pairs_hook=_no_duplicates) if path.suffix == ".json" else _yaml_load(text)
    except ProjectFileError as exc:
        raise ProjectFileError(f"{path}: {exc}") from None
    except (json.JSONDecodeError, Exception) as exc:  # yaml.YAMLError has no common import-free base here
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ProjectFileError(
            f"{path} is not valid {path.suffix.lstrip('.').upper() or 'YAML'}{where}: "
            f"{shorten(str(getattr(exc, 'problem', None) or exc), 200)}"
        ) from None
    try:
        return parse_project(raw)
    except ProjectFileError as exc:
        raise ProjectFileError(f"{path}: {exc}") from None
