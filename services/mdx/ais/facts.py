"""Reference facts about AIS identifiers: flag state by MID, IMO check digit, ship category.

A note for transshipment detection: "reefer" (refrigerated cargo ship) has no AIS ship type
code of its own; reefers report cargo (70-79), so finding them needs names or registries.
"""

from __future__ import annotations

from mdx.core.identifiers import MmsiKind, imo_is_valid, mmsi_kind, mmsi_mid

# Maritime Identification Digits -> ISO 3166-1 alpha-2 code of the flag state or territory.
# Source of the facts: ITU's table of Maritime Identification Digits (ITU Radio Regulations
# Appendix 43 / ITU-R M.585 MID list, as published by ITU-R's MARS service). Territories
# that ITU lists under their own MID get their own ISO code (e.g. 329 Guadeloupe -> GP).
MID_FLAGS: dict[int, str] = {
    # Europe
    201: "AL", 202: "AD", 203: "AT", 204: "PT", 205: "BE", 206: "BY", 207: "BG", 208: "VA",
    209: "CY", 210: "CY", 211: "DE", 212: "CY", 213: "GE", 214: "MD", 215: "MT", 216: "AM",
    218: "DE", 219: "DK", 220: "DK", 224: "ES", 225: "ES", 226: "FR", 227: "FR", 228: "FR",
    229: "MT", 230: "FI", 231: "FO", 232: "GB", 233: "GB", 234: "GB", 235: "GB", 236: "GI",
    237: "GR", 238: "HR", 239: "GR", 240: "GR", 241: "GR", 242: "MA", 243: "HU", 244: "NL",
    245: "NL", 246: "NL", 247: "IT", 248: "MT", 249: "MT", 250: "IE", 251: "IS", 252: "LI",
    253: "LU", 254: "MC", 255: "PT", 256: "MT", 257: "NO", 258: "NO", 259: "NO", 261: "PL",
    262: "ME", 263: "PT", 264: "RO", 265: "SE", 266: "SE", 267: "SK", 268: "SM", 269: "CH",
    270: "CZ", 271: "TR", 272: "UA", 273: "RU", 274: "MK", 275: "LV", 276: "EE", 277: "LT",
    278: "SI", 279: "RS",
    # North and Central America, Caribbean
    301: "AI", 303: "US", 304: "AG", 305: "AG",
    306: "CW",  # shared by Curacao, Sint Maarten (SX) and Bonaire/St Eustatius/Saba (BQ)
    307: "AW", 308: "BS", 309: "BS", 310: "BM", 311: "BS", 312: "BZ", 314: "BB", 316: "CA",
    319: "KY", 321: "CR", 323: "CU", 325: "DM", 327: "DO", 329: "GP", 330: "GD", 331: "GL",
    332: "GT", 334: "HN", 336: "HT", 338: "US", 339: "JM", 341: "KN", 343: "LC", 345: "MX",
    347: "MQ", 348: "MS", 350: "NI", 351: "PA", 352: "PA", 353: "PA", 354: "PA", 355: "PA",
    356: "PA", 357: "PA", 358: "PR", 359: "SV", 361: "PM", 362: "TT", 364: "TC", 366: "US",
    367: "US", 368: "US", 369: "US", 370: "PA", 371: "PA", 372: "PA", 373: "PA", 374: "PA",
    375: "VC", 376: "VC", 377: "VC", 378: "VG", 379: "VI",
    # Asia
    401: "AF", 403: "SA", 405: "BD", 408: "BH", 410: "BT", 412: "CN", 413: "CN", 414: "CN",
    416: "TW", 417: "LK", 419: "IN", 422: "IR", 423: "AZ", 425: "IQ", 428: "IL", 431: "JP",
    432: "JP", 434: "TM", 436: "KZ", 437: "UZ", 438: "JO", 440: "KR", 441: "KR", 443: "PS",
    445: "KP", 447: "KW", 450: "LB", 451: "KG", 453: "MO", 455: "MV", 457: "MN", 459: "NP",
    461: "OM", 463: "PK", 466: "QA", 468: "SY", 470: "AE", 471: "AE", 472: "TJ", 473: "YE",
    475: "YE", 477: "HK", 478: "BA",
    # Oceania and South-East Asia
    501: "TF",  # Adelie Land, administered with the French Southern and Antarctic Lands
    503: "AU", 506: "MM", 508: "BN", 510: "FM", 511: "PW", 512: "NZ", 514: "KH", 515: "KH",
    516: "CX", 518: "CK", 520: "FJ", 523: "CC", 525: "ID", 529: "KI", 531: "LA", 533: "MY",
    536: "MP", 538: "MH", 540: "NC", 542: "NU", 544: "NR", 546: "PF", 548: "PH", 550: "TL",
    553: "PG", 555: "PN", 557: "SB", 559: "AS", 561: "WS", 563: "SG", 564: "SG", 565: "SG",
    566: "SG", 567: "TH", 570: "TO", 572: "TV", 574: "VN", 576: "VU", 577: "VU", 578: "WF",
    # Africa
    601: "ZA", 603: "AO", 605: "DZ",
    607: "TF",  # Saint Paul and Amsterdam Islands
    608: "SH",  # Ascension Island
    609: "BI", 610: "BJ", 611: "BW", 612: "CF", 613: "CM", 615: "CG", 616: "KM", 617: "CV",
    618: "TF",  # Crozet Archipelago
    619: "CI", 620: "KM", 621: "DJ", 622: "EG", 624: "ET", 625: "ER", 626: "GA", 627: "GH",
    629: "GM", 630: "GW", 631: "GQ", 632: "GN", 633: "BF", 634: "KE",
    635: "TF",  # Kerguelen Islands
    636: "LR", 637: "LR", 638: "SS", 642: "LY", 644: "LS", 645: "MU", 647: "MG", 649: "ML",
    650: "MZ", 654: "MR", 655: "MW", 656: "NE", 657: "NG", 659: "NA", 660: "RE", 661: "RW",
    662: "SD", 663: "SN", 664: "SC", 665: "SH", 666: "SO", 667: "SL", 668: "ST", 669: "SZ",
    670: "TD", 671: "TG", 672: "TN", 674: "TZ", 675: "UG", 676: "CD", 677: "TZ", 678: "ZM",
    679: "ZW",
    # South America
    701: "AR", 710: "BR", 720: "BO", 725: "CL", 730: "CO", 735: "EC", 740: "FK", 745: "GF",
    750: "GY", 755: "PY", 760: "PE", 765: "SR", 770: "UY", 775: "VE",
}  # fmt: skip


def flag_of(mmsi: str) -> str | None:
    """ISO 3166-1 alpha-2 flag of the station an MMSI names, from its MID; None if none.

    Forms (ITU-R M.585): ship MIDxxxxxx, coast station 00MIDxxxx, group 0MIDxxxxx, SAR
    aircraft 111MIDxxx, auxiliary craft 98MIDxxxx, aid to navigation 99MIDxxxx, handheld
    VHF 8MIDxxxxx. SART, MOB and EPIRB devices (970/972/974) carry no MID.
    """
    if len(mmsi) == 9 and mmsi.isascii() and mmsi.isdigit() and mmsi[0] == "8":
        mid: int | None = int(mmsi[1:4]) if mmsi[1] in "234567" else None
    else:
        mid = mmsi_mid(mmsi)
    return MID_FLAGS.get(mid) if mid is not None else None


def imo_valid(imo: int) -> bool:
    """True for a 7-digit IMO number whose check digit is right (7,6,5,4,3,2 weights)."""
    return (
        isinstance(imo, int)
        and not isinstance(imo, bool)
        and 1_000_000 <= imo <= 9_999_999
        and imo_is_valid(str(imo))
    )


# ITU-R M.1371 Annex 8 table 53: the first digit gives the broad kind, the second the detail.
_SECOND_DIGIT_3X = {
    0: "fishing",
    1: "towing",
    2: "towing",
    3: "dredging",
    4: "diving",
    5: "military",
    6: "sailing",
    7: "pleasure",
}
_SECOND_DIGIT_5X = {
    0: "pilot",
    1: "sar",
    2: "tug",
    3: "port_tender",
    4: "anti_pollution",
    5: "law_enforcement",
    8: "medical",
}
_FIRST_DIGIT = {2: "wig", 4: "high_speed", 6: "passenger", 7: "cargo", 8: "tanker"}


# Every value ship_category gives, for filters that check what they are asked for.
SHIP_CATEGORIES = (
    "fishing", "towing", "dredging", "diving", "military", "sailing", "pleasure", "high_speed",
    "pilot", "sar", "tug", "port_tender", "anti_pollution", "law_enforcement", "medical", "wig",
    "passenger", "cargo", "tanker", "other", "unknown",
)  # fmt: skip


def ship_category(ship_type: int | None, mmsi: str | None = None) -> str:
    """Broad category of an AIS ship type code; SAR aircraft (111MIDxxx) are "sar".

    One of: fishing, towing, dredging, diving, military, sailing, pleasure, high_speed,
    pilot, sar, tug, port_tender, anti_pollution, law_enforcement, medical, wig, passenger,
    cargo, tanker, other (90-99, reserved and spare codes), unknown (0 or None).
    """
    if mmsi is not None and mmsi_kind(mmsi) is MmsiKind.sar_aircraft:
        return "sar"
    if not ship_type:
        return "unknown"
    tens, units = divmod(ship_type, 10)
    if tens == 3:
        return _SECOND_DIGIT_3X.get(units, "other")
    if tens == 5:
        return _SECOND_DIGIT_5X.get(units, "other")
    return _FIRST_DIGIT.get(tens, "other")
