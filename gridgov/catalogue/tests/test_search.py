"""Finding a matter the way a grid worker types it on a phone: Chinese, pinyin, initials, code, English."""

from __future__ import annotations

import copy

import pytest

from gridgov.cases.tests.factories import CATALOGUE
from gridgov.catalogue.models import Catalogue
from gridgov.catalogue.search import matter_search
from gridgov.catalogue.services import catalogue_load, scheme_catalogue_set


def _stage():
    return [{"name_zh": "处置", "amount": 1, "unit": "WORKING_DAYS"}]


MORE = [
    {"code": "01003", "name_zh": "上水井盖", "name_en": "Water supply manhole cover", "stages": _stage()},
    {"code": "02002", "name_zh": "重点场所巡查", "name_en": "Key site patrol", "stages": _stage()},
    {"code": "02003", "name_zh": "废弃井盖回收", "name_en": "Old manhole covers", "stages": _stage(),
     "active": False},
]


@pytest.fixture
def catalogue(db):
    data = copy.deepcopy(CATALOGUE)
    data["matters"] += copy.deepcopy(MORE)
    catalogue_load(key="default", data=data, name_zh="测试清单")
    return Catalogue.objects.get(key="default")


def codes(found):
    return [m.code for m in found]


@pytest.mark.parametrize("query", ["jg", "JG", "井", "井盖", "01001", "manhole", "Manhole cover", "jinggai",
                                   "jing gai", "jingg"])
def test_the_manhole_cover_is_found_however_it_is_typed(catalogue, query):
    # given the catalogue holding 01001 井盖 (Manhole cover)
    # when a worker types it in Chinese, pinyin initials, full pinyin, code or English
    found = matter_search(catalogue=catalogue, query=query)
    # then 01001 is among what is offered
    assert "01001" in codes(found)


def test_what_does_not_match_is_not_offered(catalogue):
    assert matter_search(catalogue=catalogue, query="xyzq") == []
    assert matter_search(catalogue=catalogue, query="") == []
    assert matter_search(catalogue=catalogue, query="   ") == []
    assert codes(matter_search(catalogue=catalogue, query="邻里")) == ["10001"]


def test_ranking_exact_code_then_prefixes_then_substrings(catalogue):
    # an exact code comes first, other codes starting alike follow
    assert codes(matter_search(catalogue=catalogue, query="01001"))[0] == "01001"
    assert codes(matter_search(catalogue=catalogue, query="0100")) == ["01001", "01002", "01003"]
    # initials at the start of the name (井盖 jg) before initials inside it (上水井盖 ssjg)
    assert codes(matter_search(catalogue=catalogue, query="jg")) == ["01001", "01003"]
    # the name starting with the text before the name holding it
    assert codes(matter_search(catalogue=catalogue, query="井盖")) == ["01001", "01003"]
    # the exact Chinese name first
    assert codes(matter_search(catalogue=catalogue, query="上水井盖"))[0] == "01003"


def test_a_polyphonic_character_matches_under_each_reading(catalogue):
    # 重 reads zhong (重点) and chong: a worker typing either reading finds 重点场所巡查
    assert codes(matter_search(catalogue=catalogue, query="zdcs")) == ["02002"]
    assert codes(matter_search(catalogue=catalogue, query="cdcs")) == ["02002"]
    assert codes(matter_search(catalogue=catalogue, query="zhongdian")) == ["02002"]


def test_retired_matters_and_other_catalogues_are_not_offered(catalogue):
    # given a retired matter and another catalogue with its own manhole cover
    catalogue_load(key="other", data={"categories": [CATALOGUE["categories"][0]],
                                      "matters": [{**CATALOGUE["matters"][0], "code": "01009",
                                                   "attributes": []}]})
    # when searching the first catalogue
    found = codes(matter_search(catalogue=catalogue, query="井盖"))
    # then neither the retired 02003 nor the other catalogue's 01009 is offered
    assert "02003" not in found and "01009" not in found
    assert codes(matter_search(catalogue=Catalogue.objects.get(key="other"), query="jg")) == ["01009"]


def test_the_scheme_searches_the_catalogue_it_uses(catalogue, scheme):
    # given a scheme using another catalogue
    catalogue_load(key="other", data={"categories": [CATALOGUE["categories"][0]],
                                      "matters": [{**CATALOGUE["matters"][0], "code": "01009",
                                                   "attributes": []}]})
    scheme_catalogue_set(scheme=scheme, catalogue=Catalogue.objects.get(key="other"))
    # when searching by scheme
    # then the matters come from that catalogue
    assert codes(matter_search(scheme=scheme, query="jg")) == ["01009"]


def test_a_scheme_without_a_catalogue_of_its_own_searches_the_default_one(catalogue, scheme):
    assert codes(matter_search(scheme=scheme, query="jg")) == ["01001", "01003"]


def test_limit(catalogue):
    assert len(matter_search(catalogue=catalogue, query="0", limit=2)) == 2
    assert matter_search(catalogue=catalogue, query="0", limit=0) == []


def test_a_changed_catalogue_is_searched_afresh(catalogue):
    # given a search that filled the in-memory keys
    assert codes(matter_search(catalogue=catalogue, query="wg")) == []
    # when the catalogue is loaded again with 井盖 renamed 窨井盖 (yjg) and a new matter 围挡 (wd)
    data = copy.deepcopy(CATALOGUE)
    data["matters"][0]["name_zh"] = "窨井盖"
    data["matters"].append({"code": "02009", "name_zh": "围挡", "stages": _stage()})
    catalogue_load(key="default", data=data)
    # then the next search sees both changes
    assert codes(matter_search(catalogue=catalogue, query="yjg")) == ["01001"]
    assert codes(matter_search(catalogue=catalogue, query="wd")) == ["02009"]


def test_neither_catalogue_nor_scheme_is_a_programming_error(db):
    with pytest.raises(TypeError):
        matter_search(query="jg")
