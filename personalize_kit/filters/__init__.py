"""Amazon Personalize filter expressions, importable anywhere without side effects.

The SDK uses the language to validate a project's filters; the mirror uses it to evaluate them.

>>> parse_filter('EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("watch")').parameters
frozenset()
"""

from personalize_kit.exceptions import FilterSyntaxError, InvalidFilterValuesError
from personalize_kit.filters.evaluate import BoundFilter
from personalize_kit.filters.language import (
    CURRENT_ITEM,
    CURRENT_USER,
    INTERACTIONS,
    ITEMS,
    MAX_DISTINCT_FIELDS,
    MAX_EXPRESSION_LENGTH,
    MAX_FILTER_VALUE_LENGTH,
    MAX_FILTER_VALUES,
    MAX_INTERACTIONS_PER_EVENT_TYPE,
    And,
    Comparison,
    FieldRef,
    FilterExpression,
    FilterPart,
    Number,
    Or,
    Param,
    parse_filter,
    parse_filter_values,
)

__all__ = [
    "CURRENT_ITEM",
    "CURRENT_USER",
    "INTERACTIONS",
    "ITEMS",
    "MAX_DISTINCT_FIELDS",
    "MAX_EXPRESSION_LENGTH",
    "MAX_FILTER_VALUES",
    "MAX_FILTER_VALUE_LENGTH",
    "MAX_INTERACTIONS_PER_EVENT_TYPE",
    "And",
    "BoundFilter",
    "Comparison",
    "FieldRef",
    "FilterExpression",
    "FilterPart",
    "FilterSyntaxError",
    "InvalidFilterValuesError",
    "Number",
    "Or",
    "Param",
    "parse_filter",
    "parse_filter_values",
]
