"""What the seeds publish that both the territory and the base data of a profile are built from: the
division of Luohu's grids by property form, and how a village-level division's short name is read."""

from __future__ import annotations

# Luohu's 252 comprehensive grids by property form (seed 004)
LUOHU_TYPE_SPLIT = {"residential": 68, "industrial_commercial": 11, "urban_village": 53, "mixed": 120}


def short_name(name: str) -> str:
    """'文献社区居委会' → '文献社区', '白云寺村委会' → '白云寺村', '罗湖社区居民委员会' → '罗湖社区'."""
    for suffix, keep in (("社区居民委员会", "社区"), ("居民委员会", "社区"), ("社区居委会", "社区"),
                         ("村村委会", "村"), ("村民委员会", "村"), ("村委会", "村"), ("居委会", "社区")):
        if name.endswith(suffix):
            return name[: -len(suffix)] + keep
    return name
