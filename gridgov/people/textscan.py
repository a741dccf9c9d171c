"""Finding personal data in free text a resident or a caller wrote (a case's description), so that text
can be published without it: phone numbers and ID numbers in any spelling, e-mail addresses, chat
account ids, licence plates, and names.

How numbers are found: the text is first read through a one-character-for-one-character table (full-width
forms, other scripts' digits, circled digits, Chinese numerals 一…九 / 壹…玖 / 幺 / 两 / 〇, every dash,
odd spaces and zero-width characters), so positions in the normalised text are positions in the original.
Digits are then joined into runs across short separators (spaces, dashes, dots, brackets, slashes,
commas), a "+" or the check character X of an ID number included. Any run of seven digits or more is
personal enough to hide — a mobile, a landline with or without its area code, an 18- or 15-character ID
number, a bank card — whatever its grouping; only a calendar date (2026-12-06) is left as written.

How names are found: the names the caller knows to be at stake (the reporter's own, the residents of
the case's cell), written with or without spaces between their characters; and by a heuristic for
Chinese names as people write them in a complaint: a common surname with up to two characters before a
form of address (张先生, 王建国师傅, 李阿姨, 刘姐), 老/小 + surname (老张, 小王), 姓 + surname (姓王的),
and a name after a cue (联系人：张三, 业主李四, 我叫王五). The heuristic errs towards hiding a character
too many rather than one too few.

On request (`addresses=True`, for a report that is not about public space) the numbers of a building,
unit, floor, room or house are found too (3号楼2单元502室 → *号楼*单元*室).

Every finding is replaced by a fixed mask that does not tell its length: numbers ``***``, e-mail
addresses ``***@***``, names ``**``, house numbers ``*``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

PHONE = "PHONE"
ID_NUMBER = "ID_NUMBER"
NUMBER = "NUMBER"
EMAIL = "EMAIL"
CHAT_ID = "CHAT_ID"
PLATE = "PLATE"
NAME = "NAME"
ADDRESS = "ADDRESS"

MASKS = {PHONE: "***", ID_NUMBER: "***", NUMBER: "***", EMAIL: "***@***", CHAT_ID: "***", PLATE: "***",
         NAME: "**", ADDRESS: "*"}
# a run of this many digits is hidden whatever it is (the shortest local landline has seven)
MIN_DIGITS = 7


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int


# =========================================================================== normalising, one char for one
_CHINESE_DIGITS = {**dict.fromkeys("〇零○◯", "0"), **dict.fromkeys("一壹幺", "1"), **dict.fromkeys("二贰貳两兩", "2"),
                   **dict.fromkeys("三叁參", "3"), **dict.fromkeys("四肆", "4"), **dict.fromkeys("五伍", "5"),
                   **dict.fromkeys("六陆陸", "6"), **dict.fromkeys("七柒", "7"), **dict.fromkeys("八捌", "8"),
                   **dict.fromkeys("九玖", "9")}
_DASHES = "‐‑‒–—―−⁃﹣﹘"
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"
_DOTS = "·•・∙⋅"


def _fold(ch: str) -> str:
    if ch in _CHINESE_DIGITS:
        return _CHINESE_DIGITS[ch]
    code = ord(ch)
    if 0xFF01 <= code <= 0xFF5E:  # full-width ASCII
        return chr(code - 0xFEE0)
    if ch in _DASHES:
        return "-"
    if ch in _DOTS:
        return "."
    if ch in _INVISIBLE or ch == "\u3000" or (ch.isspace() and ch not in "\n\r\t "):
        return " "
    if not ch.isascii():
        digit = unicodedata.digit(ch, None)  # other scripts' digits, circled and superscript digits
        if digit is not None:
            return str(digit)
    return ch


def normalised(text: str) -> str:
    """The text with every look-alike of a digit, dash, space or ASCII character folded to it; exactly
    as long as the text, so a position in one is the same position in the other."""
    return "".join(_fold(ch) for ch in text)


# =========================================================================== numbers
_SEPARATORS = frozenset(" \t\r\n-./_()[]{},")
_MAX_GAP = 3  # separator marks (dashes, dots, brackets …) between two digits of one number
_MAX_SPACES = 12  # and characters in all, spaces included
_DATE = re.compile(r"(?:19|20)\d{2}[-./](?:0?[1-9]|1[0-2])[-./](?:0?[1-9]|[12]\d|3[01])")


def _digit_runs(norm: str) -> list[tuple[int, int]]:
    """(start, end) of each run of digits joined by at most three separator characters."""
    runs: list[tuple[int, int]] = []
    i, n = 0, len(norm)
    while i < n:
        if not norm[i].isdigit():
            i += 1
            continue
        start = end = i
        j = i + 1
        while j < n:
            if norm[j].isdigit():
                end = j
                j += 1
                continue
            k, marks = j, 0
            while k < n and norm[k] in _SEPARATORS and marks <= _MAX_GAP and k - j <= _MAX_SPACES:
                marks += not norm[k].isspace()
                k += 1
            if k < n and marks <= _MAX_GAP and k - j <= _MAX_SPACES and norm[k].isdigit():
                j = k
                continue
            break
        runs.append((start, end + 1))
        i = end + 1
    return runs


def _widen(norm: str, start: int, end: int) -> tuple[int, int]:
    """Take in an ID number's check character X after the run and a "+" before it."""
    k, marks = end, 0  # the same gap as between two digits of a run
    while k < len(norm) and norm[k] in _SEPARATORS and marks <= _MAX_GAP and k - end < _MAX_SPACES:
        marks += not norm[k].isspace()
        k += 1
    if k < len(norm) and norm[k] in "Xx" and not (k + 1 < len(norm) and norm[k + 1].isascii()
                                                  and norm[k + 1].isalnum()):
        end = k + 1
    k = start - 1
    while k >= 0 and start - k <= 2 and norm[k] == " ":
        k -= 1
    if k >= 0 and norm[k] == "+":
        start = k
    return start, end


def _number_kind(chars: str) -> str:
    digits = "".join(c for c in chars if c.isdigit())
    tail = chars.rstrip()[-1:]
    if (len(digits) == 17 and tail in "Xx") or (len(digits) in (15, 18) and not digits.startswith("0")):
        return ID_NUMBER
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) == 11 + len(prefix):
            digits = digits[len(prefix):]
    if re.fullmatch(r"1[3-9]\d{9}", digits) or re.fullmatch(r"0\d{9,11}", digits):
        return PHONE
    return NUMBER


def _numbers(norm: str) -> list[Finding]:
    found = []
    for start, end in _digit_runs(norm):
        # a calendar date at the front of a run is not a number to hide; what follows it is read on its own,
        # unless the whole run reads as a phone or an ID number (1900-01-1 0000 is a mobile, grouped oddly)
        date = _DATE.match(norm, start, end)
        whole = _number_kind(norm[start:end]) != NUMBER
        if date and not whole and (date.end() == end or not norm[date.end()].isdigit()):
            rest = [(s, e) for s, e in _digit_runs(norm[date.end():end])]
            pieces = [(date.end() + s, date.end() + e) for s, e in rest]
        else:
            pieces = [(start, end)]
        for s, e in pieces:
            s, e = _widen(norm, s, e)
            digits = sum(1 for c in norm[s:e] if c.isdigit())
            if digits >= MIN_DIGITS or (digits == 17 and norm[e - 1] in "Xx"):
                found.append(Finding(_number_kind(norm[s:e]), s, e))
    return found


# =========================================================================== e-mail, chat ids, plates
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+\s*(?:@|\(at\)|\[at\]|\{at\}|\s+at\s+)\s*[A-Za-z0-9-]+"
    r"(?:\s*(?:\.|\(dot\)|\[dot\]|\{dot\}|\s+dot\s+)\s*[A-Za-z0-9-]+)*"
    r"\s*(?:\.|\(dot\)|\[dot\]|\{dot\}|\s+dot\s+)\s*[A-Za-z]{2,10}(?![A-Za-z])", re.IGNORECASE)
_CHAT = re.compile(r"(?:微信号?|微信|wechat|weixin|vx|wx|qq号?|扣扣)\s*(?:号码?|账号|id)?\s*[:：是为]?\s*"
                   r"(?P<id>[A-Za-z][A-Za-z0-9_-]{4,19}|\d{5,12})", re.IGNORECASE)
_PLATE = re.compile(r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-Za-z]\s?[A-HJ-NP-Za-hj-np-z0-9]{5,6}"
                    r"(?![A-Za-z0-9])")


def _patterns(norm: str) -> list[Finding]:
    found = [Finding(EMAIL, m.start(), m.end()) for m in _EMAIL.finditer(norm)]
    found += [Finding(CHAT_ID, m.start("id"), m.end("id")) for m in _CHAT.finditer(norm)]
    found += [Finding(PLATE, m.start(), m.end()) for m in _PLATE.finditer(norm)]
    return found


# =========================================================================== names
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "慕容", "令狐", "夏侯", "公孙", "长孙",
                     "宇文", "司徒", "端木", "南宫", "西门", "独孤")
SURNAMES = ("王李张刘陈杨黄赵周吴徐孙马胡朱郭何罗高林郑梁谢唐许冯宋韩邓彭曹曾田于萧肖潘袁董叶杜丁蒋程余吕魏蔡苏任"
            "卢沈姜姚钟崔陆谭汪石付傅贾范金方韦夏廖侯白孟邹秦尹江熊薛邱闫阎段雷季史陶毛贺龙万顾关郝孔向龚邵钱"
            "武黎汤戴严文常牛莫洪米康温代赖施覃安乔葛祝伍申聂齐柳庞翟殷樊左耿章鲁岳易俞倪汶岑祁柏裴")
# surnames that begin ordinary words after 老/小 (小高层, 小黄车, 老石桥 …): not read as 老X / 小X
_PLAIN_AFTER_LAO_XIAO = set("高石方白金江关于向安常文万代龙马毛田黄米牛孔齐左严洪康乔武温易柏")
_TITLES = ("先生", "女士", "小姐", "师傅", "阿姨", "大爷", "大妈", "大娘", "大姐", "大哥", "大叔", "叔叔", "奶奶",
           "爷爷", "婆婆", "老太", "老伯", "伯伯", "老师", "同志", "经理", "老板", "书记", "主任", "医生", "律师",
           "警官", "队长", "组长", "站长", "校长", "院长", "所长")
_SHORT_TITLES = "姐哥叔婶伯姨"
_CUES = ("姓名", "名字", "名叫", "叫做", "我叫", "他叫", "她叫", "联系人", "报告人", "举报人", "反映人", "投诉人",
         "户主", "业主", "租户", "房东", "当事人", "被投诉人")

_HAN = r"[\u3400-\u4dbf\u4e00-\u9fff]"
_SURNAME = "(?:" + "|".join(COMPOUND_SURNAMES) + f"|[{SURNAMES}])"
_TITLED = re.compile(f"(?P<n>{_SURNAME}{_HAN}{{0,2}})(?={'|'.join(_TITLES)})|(?P<s>{_SURNAME})(?=[{_SHORT_TITLES}])")
_LAO_XIAO = re.compile(f"[老小](?P<n>{'|'.join(COMPOUND_SURNAMES)}|[{''.join(c for c in SURNAMES if c not in _PLAIN_AFTER_LAO_XIAO)}])"
                       )
_XING = re.compile(f"姓(?!名)\\s*(?P<n>{'|'.join(COMPOUND_SURNAMES)}|{_HAN})")
_CUED = re.compile(f"(?:{'|'.join(_CUES)})\\s*[:：是为]?\\s*(?P<n>{_SURNAME}{_HAN}{{1,2}}|[A-Z][a-z]+(?:\\s+[A-Z][a-z]+)?)")
_LATIN_TITLED = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Dr|Mx)\.?\s+(?P<n>[A-Z][A-Za-z'-]+(?:\s+[A-Z][A-Za-z'-]+)?)")
_NAME_GAP = r"[\s\u200b-\u200d\u2060\ufeff·•.\-_]*"


def _known_names_pattern(names: Iterable[str]) -> re.Pattern | None:
    """One pattern for the given names, longest first, each allowing spaces or dots between its characters."""
    cleaned = sorted({" ".join(str(n).split()) for n in names if n and len("".join(str(n).split())) >= 2},
                     key=len, reverse=True)
    parts = []
    for name in cleaned:
        chars = [c for c in name if not c.isspace()]
        body = _NAME_GAP.join(re.escape(c) for c in chars)
        if name.isascii():
            parts.append(rf"(?<![A-Za-z]){body}(?![A-Za-z])")
        else:
            parts.append(body)
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def _names(text: str, names: Iterable[str]) -> list[Finding]:
    found = []
    known = _known_names_pattern(names)
    if known is not None:
        found += [Finding(NAME, m.start(), m.end()) for m in known.finditer(text)]
    for m in _TITLED.finditer(text):
        group = "n" if m.group("n") else "s"
        found.append(Finding(NAME, m.start(group), m.end(group)))
    for pattern in (_LAO_XIAO, _XING, _CUED, _LATIN_TITLED):
        found += [Finding(NAME, m.start("n"), m.end("n")) for m in pattern.finditer(text)]
    return found


# =========================================================================== house numbers
_HOUSE_NUMBER = re.compile(r"(?P<n>\d+(?:\s*[-－]\s*\d+)*|[A-Za-z]\d*)\s*(?=号楼|号院|栋|幢|座|单元|层|楼|室|号|户|门)")


_ROOM_AFTER = re.compile(r"(?:号楼|栋|幢|座|单元|楼)\s*(?P<n>\d{2,5})(?!\d)")
_BUILDING_UNIT_ROOM = re.compile(r"(?<!\d)(?P<n>\d{1,4}\s*[-－]\s*\d{1,3}\s*[-－]\s*\d{1,5})(?!\d)")


def _house_numbers(norm: str) -> list[Finding]:
    """The numbers of a building, unit, floor, room or house (3号楼, 2单元, 502室, 3栋1201, 12-3-401): where a
    report is about a home, they say whose."""
    return [Finding(ADDRESS, m.start("n"), m.end("n"))
            for pattern in (_HOUSE_NUMBER, _ROOM_AFTER, _BUILDING_UNIT_ROOM) for m in pattern.finditer(norm)
            if not _DATE.fullmatch(m.group("n"))]


# =========================================================================== together
def text_findings(text: str, *, names: Iterable[str] = (), addresses: bool = False) -> list[Finding]:
    """Every piece of personal data found in `text`, as spans of the text, overlapping spans merged
    (the kind of the earliest-starting one kept), in order. With `addresses`, house numbers too."""
    text = text or ""
    norm = normalised(text)
    spans = _numbers(norm) + _patterns(norm) + _names(text, names)
    if addresses:
        spans += _house_numbers(norm)
    spans.sort(key=lambda f: (f.start, -f.end))
    merged: list[Finding] = []
    for f in spans:
        if f.end <= f.start:
            continue
        if merged and f.start < merged[-1].end:
            last = merged[-1]
            merged[-1] = Finding(last.kind, last.start, max(last.end, f.end))
        else:
            merged.append(f)
    return merged


def text_scrub(text: str, *, names: Iterable[str] = (), addresses: bool = False) -> str:
    """`text` with every finding replaced by its fixed mask."""
    text = text or ""
    out, at = [], 0
    for f in text_findings(text, names=names, addresses=addresses):
        out += [text[at:f.start], MASKS[f.kind]]
        at = f.end
    out.append(text[at:])
    return "".join(out)
