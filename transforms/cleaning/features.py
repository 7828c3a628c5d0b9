"""Features of a paragraph's form, for the boilerplate classifier (``transforms.cleaning.classifier``).

What a paragraph looks like rather than what it says: where it stands (from the end of the item
especially), how long it is, whether it ends like a sentence, how much of it is capitals, digits or
short function words, and whether it carries the marks boilerplate carries in any wording: ©,
years, e-mail addresses, handles and URLs, agency names, letter-group desk slugs and reference
codes, calls to action, licence and about vocabulary (a short multilingual list of stems, not
phrasings), photo credits, time stamps, verbs of attribution, and "related" markers, also on the
paragraph before it (the headline line that follows "Read also:").

Cost matters (cleaning runs at 2,000 items/s/core): cues are counted (one word half, two or more the whole of a cue) word by word in one dict
(whole words, word stems by their first letters, and word pairs), not searched by regular
expressions, and a long paragraph is read at its two ends only, where boilerplate marks sit.
"""

from __future__ import annotations

import math
import operator
from itertools import compress
import re
from collections.abc import Sequence

from .rulepacks import RuleSet

# Lexicon per cue: "word" matches the whole word, "stem*" any word starting so, "two words" a pair.
_CUES: dict[str, str] = {
    "copy": "copyright copyrighted © derechos* droits* rechte diritti direitos hak cipta haklar* reservados "
            "réservés reserved авторск* правообладател*",
    "rights": "rights reproduc* redistribut* republish* licen* permission* authoriz* authoris* intellectual "
              "prohibit* prohibid* interdit* untersagt vietat* proibid* dilarang yasak* reproduz* riprodu* "
              "wiedergabe propiedad propriété eigentum propriet* syndicat* originally unauthori* consent "
              "autorización autorisation genehmigung autorizzazione autorização izin rediffus* redifus* "
              "rebroadcast* resale reprint* retransmi* weiterverbreit* nachdruck riproduz* ridistribu* "
              "sindicac* riutilizz* reuse reutiliz* réutilis* wiederverwend* dimuat ulang лицензи* перепечат* воспроизвед*",
    "about": "founded established headquarter* bureaus bureau correspondents subscribers disseminat* "
             "fundada fundado fondée gegründet fondata didirikan kurulan agency agencia agence incorporated "
             "nachrichtenagentur agenzia agência kantor ajans* state-run state-owned network агентств* "
             "news agency",
    # (Comment prompts by their plural nouns: "comment*" took "commented", "commentato", a verb of
    # attribution, and "comment" the stories' "declined to comment".)
    "cta": "subscrib* sign up signup newsletter* download* follow join click* tap share listen* watch app "
           "apps whatsapp telegram facebook twitter instagram youtube tiktok linkedin comments "
           "commentaires commenti comentarios comentários kommentare yorumlar komentar suscr* partagez "
           "partager compartí compartilhe comparte condividi bagikan paylaş "
           "síguenos abonn* suivez folgen iscriviti seguici inscreva* assine siga ikuti berlangganan takip "
           "abone unduh télécharg* herunterladen scarica baixe alerts notifications cliqu* toque aqui",
    "contact": "e-mail email contact* reporter* editor* editing desk tel phone redac* redaks* hubungi "
               "iletişim kontakt* correspondent pewarta muhabir redaktion write to",
    "photo": "photo photos foto* picture* image images imagen bild credit* getty handout file photo",
    "stamp": "updated published modified actualizado actualizada aktualisiert aggiornato aggiornata "
             "atualizado atualizada diperbarui güncelleme güncellendi gmt utc wib",
    "ad": "advertis* sponsor* anzeige publicidad publicité pubblicità iklan reklam* paywall premium promo* "
          "subscribers-only abbonati abonnés suscriptores assinantes abonnenten",
    "readtime": "min read minute read minutes read reading time lesezeit lectura leitura lecture okuma",
    "said": "said says told added according to announced reported dijo afirmó explicó según selon "
            "déclaré indiqué sagte teilte erklärte laut detto affermato secondo disse afirmou segundo "
            "kata ujar menurut dedi açıkladı göre заявил сообщил commented commentato comentó comentou relató relatou "
            "commenté kommentierte",
    "source": "source fuente quelle fonte sumber kaynak via full story original article",
}
_RELATED_STARTS = (
    "related", "read also", "also read", "see also", "read more", "more on", "lea también", "lee también",
    "lea tambien", "lire aussi", "à lire", "a lire", "voir aussi", "lesen sie auch", "mehr zum thema",
    "auch interessant", "leggi anche", "potrebbe interessarti", "leia também", "veja também", "saiba mais",
    "baca juga", "simak juga", "ayrıca okuyun", "ayrıca bakınız", "ilgili haber", "you may also",
    "you might also", "more from", "latest from", "también te puede", "te puede interesar",
    "next read", "read next", "up next", "keep reading", "from the archive", "from our archive", "relacionad",
    "noticia relacionada", "lire également", "à lire également", "siehe auch", "vedi anche", "guarda anche",
    "correlati", "veja mais", "confira", "lihat juga", "berita terkait", "artikel terkait",
    "читайте также", "по теме",
)
# Punctuation around words becomes space (str.translate, in C: several times faster than a regex
# findall); hyphens and apostrophes inside words stay ("state-run", "e-mail").
_PUNCT_TO_SPACE = str.maketrans({c: " " for c in ',.;:!?"()[]{}«»“”„…|/·•—–*+=<>#'})
_ASCII_PUNCT = "".join(c for c in map(chr, _PUNCT_TO_SPACE) if c.isascii())
_OTHER_PUNCT = tuple(c for c in map(chr, _PUNCT_TO_SPACE) if not c.isascii())
_ASCII_PUNCT_TO_SPACE = bytes.maketrans(_ASCII_PUNCT.encode(), b" " * len(_ASCII_PUNCT))


def _words_of(low: str) -> list[str]:
    """``low.translate(_PUNCT_TO_SPACE).split()``; for ASCII text by bytes.translate (a table, not
    a dict lookup per character: several times faster)."""
    if low.isascii():
        return low.encode("ascii").translate(_ASCII_PUNCT_TO_SPACE).decode("ascii").split()
    # UTF-8 bytes of other characters are all >= 0x80, so the table leaves them be; the few other
    # punctuation characters are replaced one by one (each maps to a space on its own, as in translate).
    t = low.encode("utf-8", "surrogatepass").translate(_ASCII_PUNCT_TO_SPACE).decode("utf-8", "surrogatepass")
    for c in _OTHER_PUNCT:
        if c in t:
            t = t.replace(c, " ")
    return t.split()


_YEAR = re.compile(r"\b(?:19[5-9]\d|20[0-4]\d)\b")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.\w")
_HANDLE = re.compile(r"(?<![\w@])@\w{2,}")
_URL = re.compile(r"https?://|\bwww\.|\b[\w-]+\.(?:com|org|net|co|io|news|info|de|fr|es|it|id|tr|ru|my|in|pk|jp|cn)\b")
_CODE = re.compile(r"\b[a-z]{2,5}:\d{6}-\d{2,4}-\d{3,}|\b\d{6}-\d{2,4}-\d{4,}|\b[A-Z]{2,}\d{2,}[A-Z]*\b")
# What every match of _CODE contains (six digits and a hyphen, or a capital before a digit): a fast
# search that spares the slow one on prose.
_CODE_HINT = re.compile(r"\d{6}-|[A-Z]\d")
# For ASCII text the same test by bytes.translate (capitals to "A", digits to "0") and two substring
# searches in C: a regular expression is slow to try at every position of a paragraph.
_CODE_CLASSES = bytes.maketrans(bytes(range(65, 91)) + bytes(range(48, 58)), b"A" * 26 + b"0" * 10)


def _may_hold_year(sample: str) -> bool:
    """False only when _YEAR cannot match ``sample`` (it needs four digits in a row)."""
    b = _classes(sample)
    return b is None or b"0000" in b


def _may_hold_code(sample: str) -> bool:
    """False only when _CODE cannot match ``sample``."""
    b = _classes(sample)
    if b is None:
        return _CODE_HINT.search(sample) is not None
    return b"A0" in b or b"000000-" in b


def _classes(sample: str) -> bytes | None:
    """``sample`` as bytes with capitals as "A" and digits as "0", or None when it holds a digit
    outside ASCII (the patterns' \\d takes those too). Other characters become bytes >= 0x80."""
    if sample.isascii():
        return sample.encode("ascii").translate(_CODE_CLASSES)
    if any(map(str.isdigit, _ASCII_RUN.sub("", sample))):  # isdigit takes every \d and more
        return None
    return sample.encode("utf-8", "surrogatepass").translate(_CODE_CLASSES)
_SLASHSLUG = re.compile(r"(?<![\w/])[a-z]{2,4}(?:-[a-z]{2,4})?/[a-z]{2,4}(?:/[a-z]{2,4})*(?![\w/])")
# A paragraph that is nothing but short letter groups: "NFZ ZUL GR", "jm/sst", "cor-abc/def".
_SLUG = re.compile(r"[A-Za-z]{1,6}(?:[ /.,;-]{1,3}[A-Za-z]{1,6}){0,6}[ .;]*")
_END_PUNCT = frozenset('.!?"»”’)…')
_SEPARATORS = ("|", "•", "·", "—", "»", "›")
_SCAN_HEAD = 140
_SCAN_TAIL = 110
# Short function words of the corpus languages: running prose has many, chrome and slugs few.
_FUNCTION = frozenset(
    "the a an of to in on at for and or but that with by from was were is are has have had be been "
    "it its as which who this than after before would will could not their they he she his her "
    "el la los las de del y en que por con un una se su al es fue para lo "
    "le les des du et à au aux dans pour sur une qui est a été par "
    "der die das und den dem des ein eine ist im mit von zu auf für nicht sich "
    "il lo gli di da che è con per una sono ha "
    "o os as do da dos das em um uma que com não é "
    "dan yang di ke dari untuk dengan pada ini itu akan "
    "ve bir bu da de için ile olarak".split())

FEATURE_NAMES: tuple[str, ...] = (
    "bias", "is_first", "is_last", "is_last2", "in_tail3", "rel_pos", "from_end_inv",
    "log_words", "words_le3", "words_le8", "words_le20", "words_gt60",
    "ends_sentence", "ends_colon", "upper_ratio", "digit_ratio", "titlecase_ratio", "separators",
    "slug_only", "agency_name", "agency_name_short",
    *(f"cue_{k}" for k in _CUES), "cue_related",
    "mark_email", "mark_handle", "mark_url", "mark_year", "mark_code", "mark_slashslug", "mark_paren",
    "prev_related", "prev_related_short", "sentence_like", "function_share",
    "about_agency", "cue_count", "said_sentence",
)
_INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}
# The columns that are a mark of boilerplate rather than a matter of position or length: the
# classifier never drops a paragraph on its form alone (see classifier.ParagraphModel.judge).
EVIDENCE_COLUMNS: tuple[int, ...] = tuple(
    i for i, name in enumerate(FEATURE_NAMES)
    if (name.startswith(("cue_", "mark_", "agency_name", "prev_related")) or name == "slug_only")
    and name not in ("cue_said", "cue_count", "mark_year", "agency_name_short"))


_CUE_COLUMNS = tuple(_INDEX[f"cue_{k}"] for k in _CUES if k != "said")
_LEXICON_COLUMNS = tuple(_INDEX[f"cue_{k}"] for k in _CUES)


def _lexicon() -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]]:
    words: dict[str, set[int]] = {}
    stems: dict[str, set[int]] = {}
    pairs: dict[str, set[int]] = {}
    for cue, spec in _CUES.items():
        idx = _INDEX[f"cue_{cue}"]
        toks = spec.split()
        # Word pairs are written as two consecutive entries of the spec joined by the reader below:
        # a pair is any two adjacent spec words that also form a phrase in the list of pairs.
        for tok in toks:
            if tok.endswith("*"):
                stems.setdefault(tok[:-1], set()).add(idx)
            else:
                words.setdefault(tok, set()).add(idx)
        for a, b in zip(toks, toks[1:]):
            if not a.endswith("*") and not b.endswith("*"):
                pairs.setdefault(f"{a} {b}", set()).add(idx)
    freeze = lambda d: {k: tuple(sorted(v)) for k, v in d.items()}  # noqa: E731
    return freeze(words), freeze(stems), freeze(pairs)


# Single words that are common in prose are only cues as part of a pair ("to" in "according to").
_PAIR_ONLY = frozenset({"to", "time", "read", "up", "via", "story", "article", "full", "original", "file",
                        "news", "min", "minute", "minutes", "reading", "write", "dimuat", "ulang", "toque", "aqui"})
_WORDS, _STEMS, _PAIRS = _lexicon()
_WORDS = {k: v for k, v in _WORDS.items() if k not in _PAIR_ONLY}
_PAIR_FIRSTS = frozenset(pair.split(" ", 1)[0] for pair in _PAIRS)
# Stems by their first four letters: one failed dict lookup per word, in the common case.
_STEM4: dict[str, tuple[tuple[str, tuple[int, ...]], ...]] = {}
for _stem, _ids in _STEMS.items():
    _STEM4[_stem[:4]] = (*_STEM4.get(_stem[:4], ()), (_stem, _ids))

_AGENCY_NAMES: dict[int, tuple[RuleSet, frozenset[str], frozenset[str]]] = {}
# Words of agency names that name no agency on their own: a story naming India, France or a republic
# bears no agency's mark ("Press Trust of India", "Agence France-Presse", "Islamic Republic News Agency").
_GENERIC_NAME_WORDS = frozenset({
    "news", "agency", "press", "the", "of", "service", "international", "national", "associated", "agence",
    "agencia", "state", "official", "media", "de", "la", "agenzia", "ajansi", "ajansı", "associata",
    "nazionale", "stampa", "presse", "deutsche", "trust", "india", "asian", "indo-asian", "france", "islamic",
    "republic", "russian", "emirates", "kuwait", "malaysian", "pakistan", "korea", "china", "japan", "turkey",
    "türkiye", "indonesia", "central", "united", "world", "general", "corporation"})
_PLAIN_TAG = re.compile(r"\w{2,8}")


def _agency_names(rs: RuleSet) -> tuple[frozenset[str], frozenset[str]]:
    """(lowercase distinctive name words, the short tags as printed: "AFP", "dpa", "EFE") of the
    rule packs' agencies. A tag counts in its own case only: "AP" is an agency, "ap" is not."""
    hit = _AGENCY_NAMES.get(id(rs))
    if hit is not None and hit[0] is rs:
        return hit[1], hit[2]
    lower: set[str] = set()
    tags: set[str] = set()
    for p in rs.packs:
        if not p.agency:
            continue
        for name in (*p.names, *p.tags):
            parts = name.split()
            if len(parts) == 1 and len(name) <= 4 and _PLAIN_TAG.fullmatch(name):
                tags.add(name)
            for w in parts:
                if len(w) >= 4 and w.lower() not in _GENERIC_NAME_WORDS and _PLAIN_NAME.fullmatch(w):
                    lower.add(w.lower())
    if len(_AGENCY_NAMES) > 8:  # rule sets load once per process; tests load a few more
        _AGENCY_NAMES.clear()
    _AGENCY_NAMES[id(rs)] = (rs, frozenset(lower), frozenset(tags))
    return frozenset(lower), frozenset(tags)


_TAGS_LOWER: dict[frozenset[str], frozenset[str]] = {}


def tags_lower(tags: frozenset[str]) -> frozenset[str]:
    hit = _TAGS_LOWER.get(tags)
    if hit is None:
        hit = _TAGS_LOWER[tags] = frozenset(t.lower() for t in tags)
    return hit


# A name word as the features split text into words (no regex tags such as "dpa(?:-afx)?").
_PLAIN_NAME = re.compile(r"[\w.'-]+")


_TLDS = (".com", ".org", ".net", ".co", ".io", ".news", ".info", ".de", ".fr", ".es", ".it", ".id", ".tr",
         ".ru", ".my", ".in", ".pk", ".jp", ".cn")
_UPPER_B = bytes(range(65, 91))
_LOWER_B = bytes(range(97, 123))
_DIGIT_B = bytes(range(48, 58))
_ASCII_RUN = re.compile(r"[\x00-\x7f]+")


def _char_counts(text: str) -> tuple[int, int, int]:
    """(letters, capitals, digits), by deleting byte classes in C for ASCII text."""
    if text.isascii():
        b = text.encode("ascii")
        n = len(b)
        upper = n - len(b.translate(None, _UPPER_B))
        lower = n - len(b.translate(None, _LOWER_B))
        return upper + lower, upper, n - len(b.translate(None, _DIGIT_B))
    # Mostly ASCII with a few curly quotes or accents: the ASCII part by byte classes, the rest (a
    # few characters) one by one. For ASCII, isalpha, isupper and isdigit are the byte classes.
    b = text.encode("ascii", "ignore")
    n = len(b)
    upper = n - len(b.translate(None, _UPPER_B))
    lower = n - len(b.translate(None, _LOWER_B))
    rest = _ASCII_RUN.sub("", text)
    return (upper + lower + sum(map(str.isalpha, rest)), upper + sum(map(str.isupper, rest)),
            n - len(b.translate(None, _DIGIT_B)) + sum(map(str.isdigit, rest)))


def _scan_text(text: str) -> str:
    if len(text) <= _SCAN_HEAD + _SCAN_TAIL:
        return text
    return text[:_SCAN_HEAD] + " \n " + text[-_SCAN_TAIL:]


def _starts_related(low: str) -> bool:
    return low.startswith(_RELATED_STARTS)


_I = _INDEX
_CUE_RELATED, _MARK_EMAIL, _MARK_HANDLE, _MARK_URL, _MARK_YEAR, _MARK_CODE, _MARK_SLASHSLUG, _MARK_PAREN = (
    _I["cue_related"], _I["mark_email"], _I["mark_handle"], _I["mark_url"], _I["mark_year"], _I["mark_code"],
    _I["mark_slashslug"], _I["mark_paren"])
_PREV_RELATED, _PREV_RELATED_SHORT, _SENTENCE_LIKE, _FUNCTION_SHARE = (
    _I["prev_related"], _I["prev_related_short"], _I["sentence_like"], _I["function_share"])
_ABOUT_AGENCY, _CUE_ABOUT, _CUE_COUNT, _SAID_SENTENCE, _CUE_SAID, _CUE_COPY = (
    _I["about_agency"], _I["cue_about"], _I["cue_count"], _I["said_sentence"], _I["cue_said"], _I["cue_copy"])
_CUE_AD = _I["cue_ad"]
# A paid tier's name: a word ending in "+" ("Ledger+", "F+"), not a number ("18+").
_PAID_TIER = re.compile(r"[^\W\d_]\+(?:\s|$)")
_FEATURE_CACHE_SIZE = 4096
# rule set id -> (rule set, text -> the features of a paragraph that depend on its text alone)
_FEATURE_CACHES: dict[int, tuple[RuleSet, dict[str, list[float]]]] = {}


def _feature_cache(rs: RuleSet) -> dict[str, list[float]]:
    hit = _FEATURE_CACHES.get(id(rs))
    if hit is not None and hit[0] is rs:
        return hit[1]
    if len(_FEATURE_CACHES) > 8:
        _FEATURE_CACHES.clear()
    _FEATURE_CACHES[id(rs)] = (rs, {})
    return _FEATURE_CACHES[id(rs)][1]


def paragraph_features(paragraphs: Sequence[str], rs: RuleSet,
                       only: Sequence[int] | None = None) -> list[list[float]]:
    """One feature vector (in ``FEATURE_NAMES`` order) per paragraph, in context of its item.

    ``only``: the indexes to compute (the others are not returned), for callers that judge a few.
    """
    names, tags = _agency_names(rs)
    cache = _feature_cache(rs)
    n = len(paragraphs)
    out: list[list[float]] = []
    for i in (range(n) if only is None else only):
        text = paragraphs[i]
        # What depends on the text alone is computed once per text (site chrome repeats across
        # items); where the paragraph stands and what precedes it are added per item.
        base = cache.get(text)
        if base is None:
            base = _text_features(text, names, tags)
            if len(cache) >= _FEATURE_CACHE_SIZE:  # bounded: story text does not repeat
                cache.clear()
            cache[text] = base
        v = base.copy()
        from_end = n - 1 - i
        v[1] = float(i == 0)
        v[2] = float(from_end == 0)
        v[3] = float(from_end == 1)
        v[4] = float(from_end <= 2)
        v[5] = i / (n - 1) if n > 1 else 0.0
        v[6] = 1.0 / (1 + from_end)
        if i > 0:
            p = paragraphs[i - 1]
            if p.count(" ") < 12 and _starts_related(p[:40].lower()):
                v[_PREV_RELATED] = 1.0
                v[_PREV_RELATED_SHORT] = float((text.count(" ") + 1 if text else 0) <= 20)
        out.append(v)
    return out


def _text_features(text: str, names: frozenset[str], tags: frozenset[str] = frozenset()) -> list[float]:
    """The features of ``text`` that do not depend on its place in the item (those stay 0.0)."""
    words_d, stem4, pairs_d = _WORDS, _STEM4, _PAIRS
    v = [0.0] * len(FEATURE_NAMES)
    v[0] = 1.0
    words = text.count(" ") + 1 if text else 0
    v[7] = math.log1p(words)
    v[8] = float(words <= 3)
    v[9] = float(words <= 8)
    v[10] = float(words <= 20)
    v[11] = float(words > 60)
    last = text[-1] if text else ""
    v[12] = float(last in _END_PUNCT)
    v[13] = float(last == ":")
    sample = _scan_text(text)
    letters, upper, digits = _char_counts(sample)
    v[14] = upper / (letters or 1)
    v[15] = digits / max(1, len(sample))
    toks = sample.split()
    ntok = max(1, len(toks))
    v[16] = sum(map(str.istitle, toks)) / ntok
    v[17] = float(any(s in sample for s in _SEPARATORS))
    # Desk slugs are in one case or joined by slashes ("NFZ ZUL GR", "mhe/ads/DP/zb"); a short
    # headline is capitalized.
    v[18] = float(words <= 7 and (text.isupper() or text.islower() or "/" in text)
                  and _SLUG.fullmatch(text) is not None)
    low = sample.lower()
    lw = _words_of(low)
    # Set operations in C instead of a Python loop per word: distinct words, their first four
    # letters (for stems) and adjacent pairs, each intersected with the lexicon.
    ws = set(lw)
    for w in ws.intersection(words_d):
        for j in words_d[w]:
            v[j] += 0.5
    wl = list(ws)
    heads4 = list(map(_HEAD4, wl))
    if not stem4.keys().isdisjoint(heads4):
        for w in compress(wl, map(stem4.__contains__, heads4)):
            for stem, hit in stem4[w[:4]]:
                if w.startswith(stem):
                    for j in hit:
                        v[j] += 0.5
    # Only pairs whose first word starts a lexicon pair can be one: most paragraphs have none.
    if len(lw) > 1 and not ws.isdisjoint(_PAIR_FIRSTS):
        firsts = _PAIR_FIRSTS
        for pair in {f"{a} {b}" for a, b in zip(lw, lw[1:]) if a in firsts}.intersection(pairs_d):
            for j in pairs_d[pair]:
                v[j] += 0.5
    fn = sum(map(_FUNCTION.__contains__, lw))
    # A name is a proper noun: a name word capitalized ("Antara", "ANTARA", not the Indonesian word
    # "antara"). A short tag ("WAM", "EFE") counts only beside words about an agency ("WAM is the
    # official news agency …"): stories name the agency they quote ("told AFP") as often as chrome does.
    agency = False
    if not ws.isdisjoint(names):
        agency = not names.isdisjoint({w.lower() for w in set(_words_of(sample)) if w[:1].isupper()})
    if not agency and tags and v[_CUE_ABOUT] and not ws.isdisjoint(tags_lower(tags)):
        agency = not tags.isdisjoint(_words_of(sample))
    for j in _LEXICON_COLUMNS:  # one cue word is half the evidence, two or more all of it
        if v[j] > 1.0:
            v[j] = 1.0
    if "©" in sample:  # the sign is the whole of a copyright mark, however it is spaced ("©2026")
        v[_CUE_COPY] = 1.0
    if ("+ " in sample or sample.endswith("+")) and _PAID_TIER.search(sample):  # "Ledger+ lesen"
        v[_CUE_AD] = min(1.0, v[_CUE_AD] + 0.5)
    v[19] = float(agency)
    v[20] = float(agency and words <= 12)
    v[_CUE_RELATED] = float(_starts_related(low))
    if "@" in sample:
        v[_MARK_EMAIL] = float(_EMAIL.search(sample) is not None)
        v[_MARK_HANDLE] = float(_HANDLE.search(sample) is not None)
    if _URLISH.search(low) is not None:  # "://", "www." or a listed TLD: then the full pattern
        v[_MARK_URL] = float(_URL.search(sample) is not None)
    if digits >= 4 and ("19" in sample or "20" in sample) and _may_hold_year(sample):
        v[_MARK_YEAR] = float(_YEAR.search(sample) is not None)
    if digits >= 2 or sample.isupper():
        v[_MARK_CODE] = float(_may_hold_code(sample) and _CODE.search(sample) is not None)
    if "/" in sample:
        v[_MARK_SLASHSLUG] = float(_SLASHSLUG.search(sample) is not None)
    v[_MARK_PAREN] = float(text[:1] == "(" and last == ")")
    v[_SENTENCE_LIKE] = float(words >= 5 and text[:1].isupper() and last in '.!?"”»')
    v[_FUNCTION_SHARE] = fn / ntok
    v[_ABOUT_AGENCY] = v[_CUE_ABOUT] * v[19]
    v[_CUE_COUNT] = sum(v[j] for j in _CUE_COLUMNS) / 3.0
    v[_SAID_SENTENCE] = v[_CUE_SAID] * v[_SENTENCE_LIKE]
    return v


# --- the cheap test for a mark ------------------------------------------------------------------
# The classifier drops only paragraphs bearing a mark (an EVIDENCE_COLUMNS feature), and most
# paragraphs it looks at bear none: story lines at the end of an item. ``may_bear_mark`` answers
# "could any evidence column be non-zero?" with str methods and set tests in C, so that the full
# vector is computed for the few that could. It may say yes for a paragraph without a mark (the
# full features then decide), never no for one with a mark: every test below is implied by the
# feature it stands for (see paragraph_features).
_EVIDENCE_IDS = frozenset(EVIDENCE_COLUMNS)


def _bearing(d: dict[str, tuple[int, ...]]) -> frozenset[str]:
    return frozenset(k for k, ids in d.items() if _EVIDENCE_IDS.intersection(ids))


_MARK_WORDS = _bearing(_WORDS)
_MARK_STEM4: dict[str, tuple[tuple[str, tuple[int, ...]], ...]] = {
    head: kept for head, stems in _STEM4.items()
    if (kept := tuple((stem, ids) for stem, ids in stems if _EVIDENCE_IDS.intersection(ids)))}
_MARK_STEM_HEADS = frozenset(_MARK_STEM4)
_MARK_PAIRS = _bearing(_PAIRS)
# A pair needs its first word among the paragraph's words: a set test before the pairs are made.
_MARK_PAIR_FIRSTS = frozenset(pair.split(" ", 1)[0] for pair in _MARK_PAIRS)
_HEAD4 = operator.itemgetter(slice(0, 4))
# Implied by mark_url's own pre-test ("://", "www." or a listed TLD in the lowered text).
_URLISH = re.compile(r"://|www\.|\.(?:" + "|".join(t[1:] for t in _TLDS) + ")")
_MARK_CACHE_SIZE = 4096
# rule set id -> (rule set, words of a mark incl. its agency names, text -> may bear a mark)
_MARK_CACHES: dict[int, tuple[RuleSet, frozenset[str], dict[str, bool]]] = {}


def _mark_cache(rs: RuleSet) -> tuple[frozenset[str], dict[str, bool]]:
    hit = _MARK_CACHES.get(id(rs))
    if hit is not None and hit[0] is rs:
        return hit[1], hit[2]
    if len(_MARK_CACHES) > 8:
        _MARK_CACHES.clear()
    words = _MARK_WORDS | _agency_names(rs)[0]
    _MARK_CACHES[id(rs)] = (rs, words, {})
    return words, _MARK_CACHES[id(rs)][2]


def _text_may_bear_mark(text: str, words_of_mark: frozenset[str]) -> bool:
    sample = _scan_text(text)
    if "@" in sample or "/" in sample:  # mark_email, mark_handle, mark_slashslug (and slug_only's "/")
        return True
    if "©" in sample or "+ " in sample or sample.endswith("+"):  # cue_copy, cue_ad
        return True
    last = text[-1:]
    if text[:1] == "(" and last == ")":  # mark_paren
        return True
    if text.count(" ") + 1 <= 7 and (text.isupper() or text.islower() or "/" in text):  # slug_only
        return True
    low = sample.lower()
    if low.startswith(_RELATED_STARTS):  # cue_related
        return True
    lw = _words_of(low)
    ws = set(lw)
    if not ws.isdisjoint(words_of_mark):  # cue words (all but cue_said), agency_name
        return True
    if not ws.isdisjoint(_MARK_PAIR_FIRSTS) and not _MARK_PAIRS.isdisjoint(map(" ".join, zip(lw, lw[1:]))):
        return True
    if not _MARK_STEM_HEADS.isdisjoint(map(_HEAD4, ws)):  # cue stems, as paragraph_features reads them
        for w in ws:
            stems = _MARK_STEM4.get(w[:4])
            if stems and any(w.startswith(stem) for stem, _ in stems):
                return True
    if _URLISH.search(low) is not None:  # mark_url
        return True
    return _may_hold_code(sample) and _CODE.search(sample) is not None  # mark_code


def may_bear_mark(paragraphs: Sequence[str], i: int, rs: RuleSet) -> bool:
    """False only when no evidence feature of paragraph ``i`` can be non-zero (see above)."""
    if i > 0:  # prev_related, prev_related_short: as paragraph_features tests the paragraph before
        p = paragraphs[i - 1]
        if p.count(" ") < 12 and _starts_related(p[:40].lower()):
            return True
    text = paragraphs[i]
    words_of_mark, cache = _mark_cache(rs)
    hit = cache.get(text)
    if hit is None:
        hit = _text_may_bear_mark(text, words_of_mark)
        if len(cache) >= _MARK_CACHE_SIZE:  # bounded: site chrome repeats, story text does not
            cache.clear()
        cache[text] = hit
    return hit
