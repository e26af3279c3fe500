"""The AIS scenarios of the demo nodes: background traffic and scripted behaviours per region.

    jcg   Sea of Japan, East China Sea, Pacific coast, Kerama
    kcg   Korea Strait, Yellow Sea, East Sea, Jeju
    uscg  around Guam and the Northern Mariana Islands

Lanes and grounds are illustrative (not charted routes); anchors are chosen at sea, and every
scripted behaviour is placed with the zone files (`mdx.sim.ais.place`): an anchor too close to
a zone's edge is moved inside, so the behaviour happens where the detection rules look.

Time layout (minutes from `now`, the end of the history window; history_h defaults to 4 h):
- foreign fishing: from -150, on and on;
- going dark: reports every 60 s until -90, silent since;
- encounter: alongside from -215 for 150 minutes;
- loitering: circling from -235 for 210 minutes (3 h 30), then leaves;
- man overboard: at +3 (live), device active 40 minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from mdx.sim.ais import (
    Background,
    Behaviour,
    Encounter,
    ForeignFishing,
    GoingDark,
    Ground,
    Lane,
    Loitering,
    ManOverboard,
    Scenario,
    Zones,
    build,
)

# -- JCG: seas around Japan ---------------------------------------------------------------------

JCG_LANES: Final = (
    Lane(
        "tokyo-bay-west",
        ((35.22, 139.76), (34.95, 139.80), (34.55, 139.70), (34.40, 139.20), (34.30, 138.40),
         (33.90, 137.00)),
        ("JPTYO", "JPNGO"),
    ),
    Lane(
        "tokyo-bay-east",
        ((35.22, 139.76), (34.95, 139.80), (34.75, 140.20), (35.00, 140.90), (35.70, 141.30),
         (36.80, 141.30)),
        ("JPYOK", "JPSEN"),
    ),
    Lane(
        "osaka-kii",
        ((34.25, 135.05), (33.90, 135.00), (33.45, 135.40), (33.35, 136.30), (33.90, 137.80)),
        ("JPOSA", "JPTYO"),
    ),
    Lane(
        "busan-kanmon",
        ((35.00, 129.10), (34.60, 129.65), (34.10, 130.40), (33.95, 130.85)),
        ("KRPUS", "JPMOJ"),
        flags=("KR", "JP", "PA", "HK"),
    ),
    Lane(
        "shanghai-osumi",
        ((31.00, 122.50), (30.90, 125.50), (30.80, 128.50), (30.90, 130.85), (30.90, 131.60)),
        ("CNSHA", "JPUKB"),
        flags=("CN", "PA", "LR", "HK", "SG"),
    ),
    Lane(
        "naha-kagoshima",
        ((26.30, 127.55), (27.00, 127.70), (28.20, 128.30), (29.30, 128.90), (30.60, 129.90),
         (31.10, 130.70)),
        ("JPNAH", "JPKOJ"),
        flags=("JP",),
        tanker_share=0.1,
    ),
)  # fmt: skip

JCG_GROUNDS: Final = (
    Ground("noto", (37.90, 136.60), 8, ("JP",), ("jp-eez-sea-of-japan",)),
    Ground("choshi", (35.60, 141.40), 8, ("JP",), ("jp-eez-pacific",)),
    Ground("tosa", (32.90, 134.00), 8, ("JP",), ("jp-eez-pacific",)),
    Ground("goto", (33.10, 128.80), 6, ("JP",), ("jp-eez-sea-of-japan",)),
    Ground("sanriku", (39.00, 142.50), 10, ("JP",), ("jp-eez-pacific",), class_b_share=0.3),
    # Both parties fish the provisional zone under the agreement.
    Ground("yamato", (38.60, 134.30), 10, ("JP", "KR"), ("jp-kr-provisional-zone",), 0.3),
)


def jcg(vessels: int = 60) -> dict[str, Behaviour]:
    return {
        "background": Background(JCG_LANES, JCG_GROUNDS, vessels),
        # A Chinese trawler working west of the Goto Islands, inside Japan's zone.
        "foreign_fishing": ForeignFishing(
            "412701001", "MIN JIN YU 07011", "jp-eez-sea-of-japan", (32.85, 128.45), heading=20
        ),
        # A Korean boat fishing legally in the provisional zone switches its AIS off.
        "going_dark": GoingDark(
            "440701002", "DAE KYUNG 301", "jp-kr-provisional-zone", (37.50, 133.00)
        ),
        # A Japanese tuna boat and a Panamanian reefer meet off Tosa.
        "encounter": Encounter(
            "431701003",
            "KAIYO MARU NO.7",
            "351701004",
            "PACIFIC STAR REEFER",
            "jp-eez-pacific",
            (32.20, 133.30),
            approach_bearing=200,
            depart_bearing=170,
        ),
        # A cargo ship circles south of the Kerama Islands, inside the marine park.
        "loitering": Loitering(
            "538701005", "OCEAN GRACE", "jp-mpa-kerama", (26.10, 127.30), approach_bearing=200
        ),
        # Man overboard from a trawler in the Korea Strait's eastern channel, north-east of Iki.
        "distress": ManOverboard(
            "431701006", "EIKO MARU NO.3", "972701007", "jp-eez-sea-of-japan", (34.05, 129.95)
        ),
    }


# -- KCG: seas around Korea ---------------------------------------------------------------------

KCG_LANES: Final = (
    Lane(
        "busan-kanmon",
        ((35.00, 129.10), (34.60, 129.65), (34.10, 130.40), (33.95, 130.85)),
        ("KRPUS", "JPMOJ"),
        flags=("KR", "JP", "PA", "HK"),
    ),
    Lane(
        "shanghai-busan",
        ((31.00, 122.50), (32.40, 124.20), (33.60, 126.80), (34.55, 128.80), (34.98, 129.12)),
        ("CNSHA", "KRPUS"),
        flags=("CN", "KR", "PA", "LR", "HK"),
    ),
    Lane(
        "incheon-shanghai",
        ((37.05, 125.95), (36.00, 125.30), (34.30, 124.60), (32.40, 123.50), (31.20, 122.50)),
        ("KRINC", "CNSHA"),
        flags=("KR", "CN", "PA", "MH"),
    ),
    Lane(
        "wando-jeju",
        ((34.25, 126.80), (33.55, 126.60)),
        ("KRWAN", "KRCHA"),
        flags=("KR",),
        passenger=True,
    ),
    Lane(
        "busan-tsugaru",
        ((35.00, 129.10), (36.90, 131.60), (39.90, 136.50), (41.50, 140.10)),
        ("KRPUS", "JPHKD"),
        flags=("KR", "JP", "PA", "LR"),
    ),
    Lane(
        "pohang-north",
        ((36.05, 129.60), (37.50, 129.35), (38.50, 129.00)),
        ("KRKPO", "RUVVO"),
        flags=("KR", "PA", "MH"),
    ),
)

KCG_GROUNDS: Final = (
    Ground("yellow-sea-west", (35.60, 125.60), 8, ("KR",), ("kr-eez-yellow-sea",)),
    Ground("south-coast", (34.00, 128.10), 6, ("KR",), ("kr-eez-yellow-sea",)),
    Ground("jeju-north", (33.80, 126.80), 6, ("KR",), ("kr-eez-yellow-sea",)),
    Ground("pohang", (35.90, 129.85), 6, ("KR",), ("kr-eez-east-sea",)),
    # Chinese fleets in the provisional measures zone, where the agreement lets them fish.
    Ground("pmz-south", (34.00, 124.00), 10, ("CN",), ("kr-cn-provisional-measures-zone",), 0.2),
    Ground(
        "pmz-north", (36.20, 124.00), 10, ("CN", "KR"), ("kr-cn-provisional-measures-zone",), 0.2
    ),
)


def kcg(vessels: int = 60) -> dict[str, Behaviour]:
    return {
        "background": Background(KCG_LANES, KCG_GROUNDS, vessels),
        # A Chinese trawler across the line, inside Korea's zone north-west of Gageodo.
        "foreign_fishing": ForeignFishing(
            "412702001", "LIAO DAN YU 23570", "kr-eez-yellow-sea", (34.35, 124.95), heading=160
        ),
        # A Chinese boat in the provisional measures zone switches its AIS off.
        "going_dark": GoingDark(
            "413702002", "ZHE LING YU 37702", "kr-cn-provisional-measures-zone", (35.50, 124.00)
        ),
        # A Korean trawler and a Liberian reefer meet in the East Sea.
        "encounter": Encounter(
            "440702003",
            "DAE YANG 707",
            "636702004",
            "SILVER SEA REEFER",
            "kr-eez-east-sea",
            (36.90, 130.10),
            approach_bearing=160,
            depart_bearing=90,
        ),
        # A cargo ship circles off Seogwipo, inside the Munseom protected area.
        "loitering": Loitering(
            "352702005",
            "HANA BRIDGE",
            "kr-mpa-jeju-munseom",
            (33.165, 126.56),
            approach_bearing=180,
        ),
        # An AIS-SART from a Korean trawler's crew south of Geomundo.
        "distress": ManOverboard(
            "440702006", "GEUM YANG 12", "970702007", "kr-eez-yellow-sea", (33.80, 127.60)
        ),
    }


# -- USCG: Guam and the Northern Mariana Islands --------------------------------------------------

USCG_LANES: Final = (
    Lane(
        "apra-saipan",
        ((13.46, 144.60), (13.70, 144.50), (14.50, 145.00), (15.22, 145.65)),
        ("GUAPR", "MPSPN"),
        flags=("US", "PA", "MH", "FM"),
    ),
    Lane(
        "apra-asia",
        ((13.46, 144.58), (14.20, 142.50), (17.00, 139.00), (21.50, 136.80)),
        ("GUAPR", "TWKHH"),
    ),
    Lane(
        "apra-hawaii",
        ((13.40, 144.55), (13.10, 144.55), (13.10, 145.30), (14.20, 151.00)),
        ("GUAPR", "USHNL"),
        flags=("US", "MH", "PA", "LR"),
    ),
    Lane(
        "saipan-japan",
        ((15.25, 145.65), (16.50, 145.20), (20.00, 143.50), (21.90, 141.50)),
        ("MPSPN", "JPYOK"),
        flags=("JP", "PA", "MH"),
    ),
    Lane(
        "apra-south",
        ((13.40, 144.55), (12.00, 144.00), (9.50, 142.50)),
        ("GUAPR", "PWROR"),
    ),
)

USCG_GROUNDS: Final = (
    Ground("guam-west", (13.30, 144.35), 6, ("US",), ("uscg-aor",), class_b_share=0.8),
    Ground("saipan-west", (15.35, 145.50), 5, ("US",), ("uscg-aor",), class_b_share=0.8),
    # Longliners on the high seas (no zone of the files sets a fishing rule there).
    Ground(
        "longline-north", (17.00, 148.50), 25, ("TW", "JP", "KR", "FM", "CN"), ("uscg-aor",), 0.0
    ),
    Ground("longline-south", (11.00, 146.00), 25, ("TW", "FM", "CN", "US"), ("uscg-aor",), 0.0),
)


def uscg(vessels: int = 60) -> dict[str, Behaviour]:
    # No zone around Guam watches foreign fishing: that behaviour has no place here.
    return {
        "background": Background(USCG_LANES, USCG_GROUNDS, vessels),
        # A Taiwanese longliner south-east of Guam switches its AIS off.
        "going_dark": GoingDark("416703001", "CHIN CHUN 68", "uscg-aor", (11.50, 147.50)),
        # A Taiwanese longliner and a Vanuatu reefer meet north of the Marianas.
        "encounter": Encounter(
            "416703002",
            "SHENG FA 88",
            "577703003",
            "CORAL SEA REEFER",
            "uscg-aor",
            (18.50, 147.00),
            approach_bearing=110,
            depart_bearing=60,
        ),
        # A cargo ship waits off Tinian, circling slowly.
        "loitering": Loitering(
            "538703004", "MARIANA TRADER", "uscg-aor", (15.05, 145.40), approach_bearing=270
        ),
        # An AIS-SART north-west of Guam.
        "distress": ManOverboard(
            "366703005", "ISLA PESCADORA", "970703006", "uscg-aor", (13.65, 144.40)
        ),
    }


SCENARIOS: Final[dict[str, Callable[[int], dict[str, Behaviour]]]] = {
    "jcg": jcg,
    "kcg": kcg,
    "uscg": uscg,
}


def build_scenario(
    name: str,
    *,
    now: int,
    seed: int = 1,
    vessels: int = 60,
    history_h: float = 4.0,
    report_every_s: float = 60.0,
    zones: Zones | None = None,
    station: str | None = None,
) -> Scenario:
    """The scenario of node `name` (jcg, kcg, uscg) with `vessels` background vessels."""
    try:
        behaviours = SCENARIOS[name](vessels)
    except KeyError:
        raise ValueError(f"no AIS scenario {name!r}; known: {', '.join(SCENARIOS)}") from None
    return build(
        name,
        behaviours,
        now=now,
        history_h=history_h,
        seed=seed,
        report_every_s=report_every_s,
        zones=zones,
        station=station,
    )
