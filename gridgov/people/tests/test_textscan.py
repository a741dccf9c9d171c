"""The personal-data scan of free text: every spelling of a phone or ID number a reporter may type, e-mail
addresses, chat ids, plates and names are hidden; ordinary words, dates and short numbers are not."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridgov.people.textscan import ID_NUMBER, NAME, PHONE, normalised, text_findings, text_scrub

LEAKS = [
    # phones
    ("plain mobile", "电话13812345678谢谢", "13812345678"),
    ("spaced mobile", "电话 138 1234 5678 谢谢", "1234"),
    ("widely spaced mobile", "电话 138      1234      5678 谢谢", "1234"),
    ("newline-split mobile", "电话 138\n1234\n5678", "5678"),
    ("dashed mobile", "打138-1234-5679找我", "5679"),
    ("dotted mobile", "138.1234.5678", "5678"),
    ("+86 mobile", "+8613812345670", "5670"),
    ("+86 spaced", "+86 138 1234 5670", "5670"),
    ("0086 mobile", "008613812345670", "5670"),
    ("(+86) mobile", "(+86)138-1234-5670", "5670"),
    ("full-width mobile", "电话１３８１２３４５６７８", "５６７８"),
    ("full-width dashes", "１３８－１２３４－５６７８", "５６７８"),
    ("chinese numerals", "电话一三八一二三四五六七八", "五六七八"),
    ("capital numerals", "壹叁捌壹贰叁肆伍陆柒捌", "伍陆柒捌"),
    ("mixed numerals", "138 一二三四 5678", "5678"),
    ("zero-width joined", "138\u200b1234\u200b5678", "5678"),
    ("ideographic spaces", "138\u30001234\u30005678", "5678"),
    ("em dashes", "138—1234—5678", "5678"),
    ("landline", "座机010-88886666", "88886666"),
    ("landline full-width", "０７５５－８８８８ ８８８８", "８８８８ ８８８８"),
    ("local number", "打88886666", "88886666"),
    # ID numbers
    ("ID number", "身份证110105199001010023", "19900101"),
    ("ID number X", "身份证11010519900101002X", "1990"),
    ("spaced ID", "身份证 1101 0519 9001 0100 2X", "9001"),
    ("dashed ID", "110105-19900101-002X", "19900101"),
    ("full-width ID", "１１０１０５１９９００１０１００２Ｘ", "１９９００１０１"),
    ("old 15-digit ID", "110105900101002", "900101"),
    # e-mail and chat ids
    ("e-mail", "邮箱zhang.san@example.org", "zhang.san"),
    ("full-width at", "zhangsan＠example.org", "zhangsan"),
    ("spelled at/dot", "zhangsan at example dot org", "zhangsan"),
    ("bracketed at", "zhangsan[at]example[dot]org", "zhangsan"),
    ("wechat id", "加我微信 zs_2026abc", "zs_2026abc"),
    ("plate", "粤B12345 天天停在这里", "B12345"),
    # names
    ("surname + 先生", "楼上张先生天天吵", "张"),
    ("full name + 师傅", "王建国师傅来修过", "建国"),
    ("surname + 阿姨", "李阿姨家漏水", "李"),
    ("surname + 姐", "刘姐说的", "刘"),
    ("老 + surname", "老赵家门口", "赵"),
    ("小 + surname", "小王又来了", "王"),
    ("姓 + surname", "一个姓孙的人", "孙"),
    ("cue 联系人", "联系人：张三", "张三"),
    ("cue 业主", "业主李四反映", "李四"),
    ("compound surname", "欧阳先生", "欧阳"),
    ("latin title", "Mr. Smith complained", "Smith"),
]


@pytest.mark.parametrize(("label", "text", "secret"), LEAKS, ids=[row[0] for row in LEAKS])
def test_every_spelling_is_hidden(label, text, secret):
    # when the text is scrubbed
    out = text_scrub(text)
    # then the secret part is gone
    assert secret not in out, out
    assert "*" in out


KNOWN = [
    ("reporter's name", "赵六说楼下漏水", ["赵六"], "赵六"),
    ("spaced known name", "赵 六说楼下漏水", ["赵六"], "赵 六"),
    ("dotted known name", "赵·六说", ["赵六"], "赵·六"),
    ("latin known name", "ask JOHN DOE upstairs", ["John Doe"], "JOHN DOE"),
    ("resident in the cell", "是慕容雪村家的狗", ["慕容雪村", "王五"], "慕容雪村"),
]


@pytest.mark.parametrize(("label", "text", "names", "secret"), KNOWN, ids=[row[0] for row in KNOWN])
def test_known_names_are_hidden(label, text, names, secret):
    out = text_scrub(text, names=names)
    assert secret not in out and "**" in out


KEPT = [
    "3号楼2单元502室门口的井盖丢了",
    "2026-12-06 10:30 发现路灯不亮",
    "12345热线转来的",
    "小区门口施工管理混乱",
    "小高层楼下有人占道经营",
    "井盖丢了，很危险",
    "路口第1个路灯坏了",
]


@pytest.mark.parametrize("text", KEPT)
def test_ordinary_text_is_kept(text):
    assert text_scrub(text) == text


def test_masks_do_not_tell_the_length():
    # a name of two characters and one of three, a phone and an ID number
    assert text_scrub("张三先生") == text_scrub("张三丰先生") == "**先生"
    assert text_scrub("电话13812345678") == text_scrub("电话110105199001010023") == "电话***"


def test_kinds_and_positions():
    text = "张先生 138 1234 5678，身份证110105199001010023"
    found = text_findings(text)
    assert [f.kind for f in found] == [NAME, PHONE, ID_NUMBER]
    assert text[found[1].start:found[1].end] == "138 1234 5678"


def test_normalised_keeps_positions():
    text = "１３８—一二三四\u200b五六七八 张三"
    norm = normalised(text)
    assert len(norm) == len(text)
    assert norm.startswith("138-1234 5678")


# =========================================================================== generated spellings
SEPARATORS = st.sampled_from([" ", "  ", "      ", "-", " - ", ".", "\u3000", "\u200b", "—", "－", "/", "(", ")", "\n",
                              ", ", "", ""])
FULL_WIDTH = str.maketrans("0123456789Xx+-", "０１２３４５６７８９ＸＸ＋－")
CHINESE = str.maketrans("0123456789", "〇一二三四五六七八九")


def _spell(digits: str, cuts: list[int], seps: list[str], script: str) -> str:
    pieces, at = [], 0
    for cut in sorted(set(cuts)):
        pieces.append(digits[at:cut])
        at = cut
    pieces.append(digits[at:])
    spelled = pieces[0] + "".join(s + p for s, p in zip(seps, pieces[1:], strict=False))
    if script == "full":
        return spelled.translate(FULL_WIDTH)
    if script == "chinese":
        return spelled.translate(CHINESE)
    return spelled


def _no_digit_left(out: str) -> bool:
    return not re.search(r"\d", normalised(out))


@st.composite
def phones(draw):
    digits = "1" + draw(st.sampled_from("3456789")) + "".join(draw(st.lists(
        st.sampled_from("0123456789"), min_size=9, max_size=9)))
    prefix = draw(st.sampled_from(["", "+86", "+86 ", "0086", "86", "(+86)"]))
    cuts = draw(st.lists(st.integers(1, len(digits) - 1), max_size=4))
    seps = draw(st.lists(SEPARATORS, min_size=len(cuts), max_size=len(cuts)))
    script = draw(st.sampled_from(["ascii", "full", "chinese"]))
    return _spell(digits, cuts, seps, script) if not prefix else prefix.translate(
        FULL_WIDTH if script == "full" else {}) + _spell(digits, cuts, seps, script)


@st.composite
def id_numbers(draw):
    body = draw(st.sampled_from(["11", "31", "44", "65"])) + "".join(draw(st.lists(
        st.sampled_from("0123456789"), min_size=15, max_size=15)))
    digits = body + draw(st.sampled_from("0123456789Xx"))
    cuts = draw(st.lists(st.integers(1, len(digits) - 1), max_size=5))
    seps = draw(st.lists(SEPARATORS, min_size=len(cuts), max_size=len(cuts)))
    script = draw(st.sampled_from(["ascii", "full"]))
    return _spell(digits, cuts, seps, script)


CONTEXT = st.sampled_from(["电话", "联系我：", "请打", "身份证号", "号码是", "", "call me on "])
AFTER = st.sampled_from(["谢谢", "。", "", " 尽快处理", "，在东门"])


@settings(max_examples=300, deadline=None)
@given(before=CONTEXT, number=phones(), after=AFTER)
def test_generated_phone_spellings_are_hidden(before, number, after):
    out = text_scrub(before + number + after)
    assert _no_digit_left(out), (before + number + after, out)


@settings(max_examples=300, deadline=None)
@given(before=CONTEXT, number=id_numbers(), after=AFTER)
def test_generated_id_number_spellings_are_hidden(before, number, after):
    out = text_scrub(before + number + after)
    assert _no_digit_left(out), (before + number + after, out)
    assert not re.search(r"[XxＸ]", out)  # the check character went with the number


HOUSES = [
    ("幸福小区3号楼2单元502室门口漏水", "幸福小区*号楼*单元*室门口漏水"),
    ("12-3-401的住户天天吵", "*的住户天天吵"),
    ("3栋1201漏水", "*栋*漏水"),
    ("２号院东侧", "*号院东侧"),
    ("2026-12-06 路灯不亮", "2026-12-06 路灯不亮"),
    ("路口第1个路灯不亮", "路口第1个路灯不亮"),
]


@pytest.mark.parametrize(("text", "expected"), HOUSES)
def test_house_numbers_are_hidden_on_request(text, expected):
    # a report about a home: its building, unit and room numbers say whose it is
    assert text_scrub(text, addresses=True) == expected
    # and they are kept where the place is public (a street, a facility)
    assert text_scrub(text) == text


@pytest.mark.parametrize("text", ["电话1900—01—1 0000谢谢", "号码是1988-12-1 2345", "身份证号1 1 0 00000000000000      X谢谢", "call me on 1990.12.0 1234"])
def test_a_mobile_grouped_like_a_date_is_still_hidden(text):
    # a run of digits that reads as a mobile (or an ID number) whole is hidden, even where it begins like a
    # date, and an ID number's check character goes with it across the same gap its digits may have
    out = text_scrub(text)
    assert _no_digit_left(out) and "X" not in out


def test_a_date_before_a_number_is_kept_and_the_number_hidden():
    out = text_scrub("2026-12-06 13800138000 来电")
    assert out.startswith("2026-12-06") and "13800138000" not in out
