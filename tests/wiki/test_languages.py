from wikiloom.wiki.languages import direction, fallback_chain, is_rtl, normalize


def test_fallback_chains_follow_mediawiki() -> None:
    assert fallback_chain("pt-br") == ["pt-br", "pt", "en"]
    assert fallback_chain("de-formal") == ["de-formal", "de", "en"]
    assert fallback_chain("arz") == ["arz", "ar", "en"]
    assert fallback_chain("en") == ["en"]
    assert fallback_chain("xx-unknown") == ["xx-unknown", "en"]


def test_codes_are_normalized() -> None:
    assert normalize(" PT_BR ") == "pt-br"
    assert fallback_chain("PT_BR")[0] == "pt-br"


def test_right_to_left_languages() -> None:
    assert is_rtl("ar")
    assert is_rtl("he")
    assert is_rtl("fa")
    assert is_rtl("arz")
    assert not is_rtl("en")
    assert not is_rtl("qqx")
    assert not is_rtl("xx")
    assert direction("he") == "rtl"
    assert direction("de") == "ltr"
