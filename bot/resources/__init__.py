"""Resource directory: entries, shipped crisis and help lines, search, crisis lines and CSV I/O."""

from bot.resources.csvio import (
    COLUMNS,
    ImportReport,
    load_shipped_resources,
    read_resources_csv,
    write_resources_csv,
)
from bot.resources.model import (
    CATEGORIES,
    COSTS,
    SERVICE_AREA_KINDS,
    AgeRange,
    CategoryName,
    Resource,
    ServiceAreaKind,
    category_names,
)
from bot.resources.search import (
    DetectedPlace,
    ResourceIndex,
    SearchResult,
    Vocabulary,
    country_code,
    crisis_lines,
    load_vocabulary,
)

__all__ = [
    "CATEGORIES",
    "COLUMNS",
    "COSTS",
    "SERVICE_AREA_KINDS",
    "AgeRange",
    "CategoryName",
    "DetectedPlace",
    "ImportReport",
    "Resource",
    "ResourceIndex",
    "SearchResult",
    "ServiceAreaKind",
    "Vocabulary",
    "category_names",
    "country_code",
    "crisis_lines",
    "load_shipped_resources",
    "load_vocabulary",
    "read_resources_csv",
    "write_resources_csv",
]
